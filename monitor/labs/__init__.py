"""The lab test catalogue: codes, names, aliases, units and their SI factors."""

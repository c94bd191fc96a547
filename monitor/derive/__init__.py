"""Derived tables shared by rules, exports and reports (baseline, SI values, exposure ...)."""

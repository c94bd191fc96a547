"""Protocol profiles: the study's rules as data."""

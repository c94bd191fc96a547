"""Rules: each a small function with a stable code, a severity and a docstring."""

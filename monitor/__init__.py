"""The trial safety monitor: checks site workbooks of a clinical trial."""

__version__ = "0.1.0"

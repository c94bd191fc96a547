"""The trial safety monitor: checks site workbooks of a clinical trial."""

import os as _os

__version__ = "0.1.0"

# the rules run on a polars worker thread (monitor/pool.py); Rust gives its threads 2 MiB of
# stack unless told, the main thread has 8 MiB: ask for the same, before polars starts its pool
# (address space only: a page counts as memory once touched)
_os.environ.setdefault("RUST_MIN_STACK", str(8 << 20))

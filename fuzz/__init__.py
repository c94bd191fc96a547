"""Fuzzing harness for `monitor check` (issue 7): mutated workbooks must give exit 0, 1 or 2,
never a traceback, a crash or a hang. See fuzz/README.md."""

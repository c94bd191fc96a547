"""Where the Jinja2 templates and their stylesheets live.

In the source tree they are the top-level `templates/` folder (the layout of the design card);
an installed package carries the same files as `monitor/templates/` (pyproject maps the
`monitor.templates` package to `templates/`). `templates_dir()` returns whichever exists, so the
report and the batch summary read the same files in a checkout, an editable install and a wheel.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def templates_dir() -> Path:
    """The folder holding report.html.j2, report.css, batch-summary.html.j2, batch-summary.css."""
    for candidate in (PACKAGE / "templates", PACKAGE.parent / "templates"):
        if (candidate / "report.html.j2").is_file():
            return candidate
    raise FileNotFoundError("the monitor's templates folder is missing (templates/report.html.j2)")

"""The `monitor report` and `monitor demo` commands' work (cli.py stays thin)."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__

EXIT_OK, EXIT_UNREADABLE = 0, 2


def parse_now(text: str | None) -> datetime:
    """--now: an ISO 8601 time (a date alone is midnight UTC); default the current time."""
    if not text:
        return datetime.now(timezone.utc).replace(microsecond=0)
    try:
        d = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--now must be an ISO 8601 time like 2024-03-15T12:00:00Z, not {text!r}") from None
    return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).replace(microsecond=0)


def report_command(workbook: Path, out_dir: Path, profile, subject, cycle, previous, jobs, now, max_unpacked_mb,
                   echo=print) -> Path:
    """Check the workbook and write its PDF; returns the PDF's path. Raises ReportError,
    WorkbookError (exit 2)."""
    from ..check import check_workbook
    from ..progress import steps
    from . import make_report, previous_ids, report_name

    prev = previous_ids(previous) if previous else None
    # progress: checking and the view count as 2 units each; the layout as its parts' costs
    with steps("report", 4, workbook.name) as bar:
        bar.step(f"checking {workbook.name}", 2)
        result = check_workbook(workbook, profile, now=now, max_unpacked_mb=max_unpacked_mb)
        bar.step("building the summary", 2)
        path = Path(out_dir) / report_name(workbook.stem, subject, cycle)

        def layout(total):
            bar.grow(total)
            return lambda cost, text: bar.advance(cost, text)

        stats = make_report(result, profile, path, now=now, tool_version=__version__, subject=subject,
                            cycle=cycle, previous=prev, jobs=jobs, progress=layout)
    echo(f"report: {stats.pages} pages, {len(result.findings)} findings, {stats.wall:.1f} s")
    return path


def demo_command(samples: Path, out: Path, profile, jobs: int, now, echo=print) -> int:
    """check, annotate and report every workbook in `samples`, plus the empty template."""
    from ..check import check_workbook
    from ..reporters import summary_line, write_outputs
    from ..workbook.annotate import annotate_copy
    from ..workbook.reader import WorkbookError
    from ..workbook.template import write_template
    from . import make_report, report_name

    books = sorted(p for p in Path(samples).glob("*.xlsx") if not p.name.startswith("~$"))
    if not books:
        echo(f"monitor: no .xlsx workbooks in {samples}", file=sys.stderr)
        return EXIT_UNREADABLE
    out = Path(out)
    echo(str(write_template(out / "site-workbook-template.xlsx", profile)))
    code = EXIT_OK
    for wb in books:
        target = out / wb.stem
        echo(f"\n=== {wb}")
        try:
            result = check_workbook(wb, profile, now=now)
        except WorkbookError as e:
            echo(f"monitor: {e}", file=sys.stderr)
            code = EXIT_UNREADABLE
            continue
        for p in write_outputs(result, target):
            echo(str(p))
        echo(summary_line(result))
        echo(str(annotate_copy(wb, result, target / f"{wb.stem}-annotated.xlsx")))
        pdf = target / report_name(wb.stem)
        stats = make_report(result, profile, pdf, now=now, tool_version=__version__, jobs=jobs)
        echo(f"report: {stats.pages} pages in {stats.wall:.1f} s")
        echo(str(pdf))
    echo(f"\ndemo: outputs are in {out}/ (findings.json, findings.csv, annotated copies and PDF summaries)")
    return code

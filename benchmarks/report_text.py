"""Render the sample reports and compare their text page by page with an earlier render.

    .venv/bin/python benchmarks/report_text.py render /tmp/report_before     # before a change
    .venv/bin/python benchmarks/report_text.py render /tmp/report_after      # after it
    .venv/bin/python benchmarks/report_text.py compare /tmp/report_before /tmp/report_after

`render` writes, for every workbook in sample_sheets/ (plus any --workbook), the whole-study
report, one subject's report and one cycle summary, with a fixed clock, `--jobs` processes.
`compare` extracts each page's text with pypdf and reports every page whose text differs
other than in whitespace, page counts, and bookmark (outline) titles and targets.
Exit 0 when everything matches.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.timezone.utc)


def render(out: Path, workbooks: list, jobs: int) -> None:
    from monitor import __version__
    from monitor.check import check_workbook
    from monitor.profile.profile import load_profile
    from monitor.report import make_report

    prof = load_profile()
    out.mkdir(parents=True, exist_ok=True)
    for wb in workbooks:
        result = check_workbook(wb, prof, now=NOW, max_unpacked_mb=1024)
        subjects = result.wb.get("Subjects")
        first = None
        if subjects is not None and "subject" in subjects.frame.columns and subjects.frame.height:
            first = next((x for x in subjects.frame["subject"].to_list() if x), None)
        jobs_n = {"study": (None, None)}
        if first:
            jobs_n["subject"] = (first, None)
            jobs_n["cycle"] = (first, 1)
        for scope, (subj, cyc) in jobs_n.items():
            path = out / f"{Path(wb).stem}-{scope}.pdf"
            try:
                st = make_report(result, prof, path, now=NOW, tool_version=__version__, subject=subj, cycle=cyc,
                                 jobs=jobs, force_pool=jobs > 1)
                print(f"{path.name}: {st.pages} pages, {st.wall:.1f} s")
            except Exception as e:  # a sample without that subject/cycle: say so, compare skips it
                print(f"{path.name}: not rendered ({e})")


def page_texts(path: Path) -> list:
    from pypdf import PdfReader

    return [p.extract_text() or "" for p in PdfReader(str(path)).pages]


def outline(path: Path) -> list:
    from pypdf import PdfReader

    r = PdfReader(str(path))
    out = []

    def walk(items, level):
        for it in items:
            if isinstance(it, list):
                walk(it, level + 1)
            else:
                out.append((level, it.title, r.get_destination_page_number(it)))

    walk(r.outline, 0)
    return out


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def compare(a: Path, b: Path) -> int:
    bad = 0
    names = sorted(p.name for p in a.glob("*.pdf"))
    for name in names:
        pb = b / name
        if not pb.exists():
            print(f"{name}: missing in {b}")
            bad += 1
            continue
        ta, tb = page_texts(a / name), page_texts(pb)
        diffs = [i for i in range(max(len(ta), len(tb)))
                 if i >= len(ta) or i >= len(tb) or norm(ta[i]) != norm(tb[i])]
        oa, ob = outline(a / name), outline(pb)
        exact = sum(1 for i in range(min(len(ta), len(tb))) if ta[i] == tb[i])
        status = "same" if not diffs and oa == ob else "DIFFERENT"
        print(f"{name}: {len(ta)} -> {len(tb)} pages, {len(oa)} bookmarks, text {status} "
              f"({exact} pages byte-identical text){'' if oa == ob else ', bookmarks differ'}")
        for i in diffs[:5]:
            x = norm(ta[i]) if i < len(ta) else "<no page>"
            y = norm(tb[i]) if i < len(tb) else "<no page>"
            k = next((j for j in range(min(len(x), len(y))) if x[j] != y[j]), min(len(x), len(y)))
            print(f"  page {i + 1}: ...{x[max(0, k - 60):k + 80]!r}\n  vs       ...{y[max(0, k - 60):k + 80]!r}")
        if oa != ob:
            for i, (p, q) in enumerate(zip(oa, ob)):
                if p != q:
                    print(f"  bookmark {i}: {p} vs {q}")
                    break
        bad += status != "same"
    return 1 if bad else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render")
    r.add_argument("out", type=Path)
    r.add_argument("--workbook", action="append", default=[], type=Path, help="another workbook to render")
    r.add_argument("--no-samples", action="store_true", help="only the --workbook files")
    r.add_argument("--jobs", type=int, default=2)
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "render":
        books = [] if a.no_samples else sorted((ROOT / "sample_sheets").glob("*.xlsx"))
        render(a.out, books + a.workbook, a.jobs)
        return 0
    return compare(a.a, a.b)


if __name__ == "__main__":
    sys.exit(main())

"""Pin that a speed change leaves every output the same: record the outputs of `monitor check`
and `monitor export` for a set of workbooks once, then compare after each change.

    .venv/bin/python benchmarks/same_outputs.py record            # before the change
    .venv/bin/python benchmarks/same_outputs.py compare           # after it: exit 1 on any difference
    .venv/bin/python benchmarks/same_outputs.py record --large    # also the 1,000 x 30 workbook (slow)

Workbooks: sample_sheets/*.xlsx, the generated 20-subject workbook (benchmarks/data/
large_study_20x30.xlsx, made by make_large.py if missing), the CDISC pilot workbook when the
reference data is present (scripts/cdisc_to_workbook.py, checked with the cdisc_pilot profile),
and with --large benchmarks/data/large_study.xlsx (checked with --max-unpacked-mb 1024).

What is compared, per workbook (each command in a fresh process, with a fresh --out folder so
the history store starts empty):

* `monitor check --format text`: the exit code, stdout (the text table) and stderr;
  findings.json parsed (so a change of indentation is not a difference; `generated`, the
  time of the check, and the store's path are left out) and findings.csv byte for byte;
* `monitor check --format json`: stdout parsed, the same as findings.json;
* `monitor export`: every CSV byte for byte and every Parquet file as a frame (schema and rows).

Recorded in benchmarks/data/same_outputs/<set>/ (git-ignored): a SHA-256 per output, and the
outputs themselves when small, so a difference can be shown.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
STORE = DATA / "same_outputs"
KEEP_BYTES = 4 << 20        # outputs up to this size are kept whole, for a readable diff


def workbooks(large: bool) -> list:
    """[(name, path, extra CLI args)]"""
    out = [(p.stem, p, []) for p in sorted((ROOT / "sample_sheets").glob("*.xlsx"))]
    small = DATA / "large_study_20x30.xlsx"
    if not small.exists():
        subprocess.run([sys.executable, str(HERE / "make_large.py"), "--subjects", "20", "--out", str(small), "-q"],
                       check=True, env=_env())
    out.append(("generated_20x30", small, []))
    sys.path.insert(0, str(ROOT))
    try:
        from scripts import cdisc_to_workbook as conv

        src = conv.default_source()
        if (src / "lb.csv").is_file():
            pilot = DATA / "cdisc_pilot.xlsx"
            if not pilot.exists():
                conv.convert(src, pilot)
            out.append(("cdisc_pilot", pilot, ["--profile", "cdisc_pilot"]))
    except ImportError:
        pass
    if large:
        big = DATA / "large_study.xlsx"
        if not big.exists():
            subprocess.run([sys.executable, str(HERE / "make_large.py"), "--out", str(big), "-q"], check=True, env=_env())
        out.append(("generated_1000x30", big, ["--max-unpacked-mb", "1024"]))
    return out


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "120"            # the text table wraps to the terminal width
    env["MONITOR_USER"] = "same-outputs"
    return env


def _monitor(args: list, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "monitor", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=_env(), cwd=cwd)


def _json_norm(text: str, tmp: Path) -> str:
    d = json.loads(text)
    d.pop("generated", None)
    return json.dumps(d, ensure_ascii=False, indent=1, sort_keys=True).replace(str(tmp), "<TMP>")


def _frame_text(path: Path) -> bytes:
    import polars as pl

    df = pl.read_parquet(path)
    return (repr(df.schema) + "\n").encode() + df.write_csv().encode()


def outputs(name: str, path: Path, extra: list) -> dict:
    """output name -> bytes, for one workbook."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="same_outputs_") as t:
        tmp = Path(t)
        wb = tmp / path.name              # same file name everywhere: messages quote it
        shutil.copyfile(path, wb)
        for fmt in ("text", "json"):
            o = tmp / f"check_{fmt}"
            p = _monitor(["check", wb.name, "--format", fmt, "--out", str(o), *extra], tmp)
            out[f"check_{fmt}.exit"] = str(p.returncode).encode()
            out[f"check_{fmt}.stderr"] = p.stderr.replace(str(tmp).encode(), b"<TMP>")
            if fmt == "text":
                out["check_text.stdout"] = p.stdout.replace(str(tmp).encode(), b"<TMP>")
                if (o / "findings.json").exists():
                    out["findings.json (parsed)"] = _json_norm((o / "findings.json").read_text(), tmp).encode()
                    out["findings.csv"] = (o / "findings.csv").read_bytes()
            elif p.stdout:
                out["check_json.stdout (parsed)"] = _json_norm(p.stdout.decode(), tmp).encode()
        e = tmp / "export"
        p = _monitor(["export", wb.name, "--out", str(e), *extra], tmp)
        out["export.exit"] = str(p.returncode).encode()
        out["export.stdout"] = p.stdout.replace(str(tmp).encode(), b"<TMP>")
        for f in sorted(e.glob("*")) if e.exists() else ():
            out[f"export/{f.name}"] = _frame_text(f) if f.suffix == ".parquet" else f.read_bytes()
    return out


def _digest(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def record(sets: list, store: Path) -> None:
    for name, path, extra in sets:
        d = store / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        outs = outputs(name, path, extra)
        (d / "digests.json").write_text(json.dumps({k: _digest(v) for k, v in outs.items()}, indent=1))
        for k, v in outs.items():
            if len(v) <= KEEP_BYTES:
                f = d / "files" / k.replace("/", "__")
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(v)
        print(f"recorded {name}: {len(outs)} outputs")


def compare(sets: list, store: Path) -> int:
    bad = 0
    for name, path, extra in sets:
        d = store / name
        if not (d / "digests.json").exists():
            print(f"{name}: nothing recorded (run `record` first)")
            bad += 1
            continue
        want = json.loads((d / "digests.json").read_text())
        got = outputs(name, path, extra)
        diffs = sorted(set(want) ^ set(got)) + [k for k in sorted(set(want) & set(got))
                                                 if want[k] != _digest(got[k])]
        for k in diffs:
            print(f"{name}: {k} differs" + ("" if k in want and k in got else " (present in one run only)"))
            kept = d / "files" / k.replace("/", "__")
            if kept.exists() and k in got:
                import difflib

                a = kept.read_bytes().decode("utf-8", "replace").splitlines()
                b = got[k].decode("utf-8", "replace").splitlines()
                for line in list(difflib.unified_diff(a, b, "recorded", "now", lineterm="", n=1))[:40]:
                    print("   ", line)
        print(f"{name}: {'same' if not diffs else f'{len(diffs)} output(s) differ'} ({len(got)} outputs)")
        bad += bool(diffs)
    return 1 if bad else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=("record", "compare"))
    p.add_argument("--large", action="store_true", help="also the 1,000 x 30 workbook (minutes)")
    p.add_argument("--only", help="only the workbooks whose name contains this")
    p.add_argument("--store", type=Path, default=STORE, help=f"where the recording lives [{STORE}]")
    a = p.parse_args(argv)
    sets = [s for s in workbooks(a.large) if not a.only or a.only in s[0]]
    if a.action == "record":
        record(sets, a.store)
        return 0
    return compare(sets, a.store)


if __name__ == "__main__":
    sys.exit(main())

"""Reporters read a check Result and write it: terminal table, JSON, CSV."""

from __future__ import annotations

import csv
import io
import json
import operator
import re
import shutil
import textwrap

from .findings import FINDING_FIELDS
from .grouping import Group, grouped
from .io import _FORMULA_STARTS, atomic_write_text, safe_cell


def to_json(result) -> str:
    """findings.json: the text of `json.dumps(result.to_dict(), ensure_ascii=False, indent=2)`,
    written by orjson (Rust): ~5 ms for a 6,000-finding study, against ~50 ms for indented_json
    below and ~150 ms for json's own indented (pure-Python) encoder. Its text is json's for what
    a Result holds (strings, whole numbers, booleans, nulls, lists and string-keyed dicts; the
    same escapes and indents, non-ASCII as is); a float would differ only in how an exponent is
    written (1e-7 for 1e-07), and a Result holds none. What orjson refuses (a key that is not a
    string, an integer beyond 64 bits) goes to indented_json."""
    import orjson   # (imported here: only the commands that write findings.json need it)

    data = result.to_dict()
    try:
        return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"
    except TypeError:   # orjson.JSONEncodeError derives from TypeError
        return indented_json(data) + "\n"


_SCALARS = frozenset((str, int, float, bool, type(None)))
_FLAT: dict = {}   # level -> the C encoder of a flat dict at that level


def indented_json(obj, level: int = 0) -> str:
    """The text of `json.dumps(obj, ensure_ascii=False, indent=2)`, with json's C encoder (json
    itself uses its pure-Python encoder when it indents: 3x slower). A dict of plain values (each
    finding) is one call of the C encoder, its item separator carrying the line break and the
    indent."""
    pad, end = "  " * (level + 1), "\n" + "  " * level
    if isinstance(obj, dict) and obj and set(map(type, obj)) == {str}:
        if set(map(type, obj.values())) <= _SCALARS:
            if level not in _FLAT:
                _FLAT[level] = json.JSONEncoder(ensure_ascii=False, separators=(",\n" + pad, ": ")).encode
            return "{\n" + pad + _FLAT[level](obj)[1:-1] + end + "}"
        return "{\n" + ",\n".join(f"{pad}{json.dumps(k, ensure_ascii=False)}: {indented_json(v, level + 1)}"
                                   for k, v in obj.items()) + end + "}"
    if isinstance(obj, list) and obj:
        return "[\n" + ",\n".join(pad + indented_json(v, level + 1) for v in obj) + end + "]"
    return json.dumps(obj, ensure_ascii=False, indent=2).replace("\n", end)


# from this many findings findings.csv is written by polars (_csv_by_polars): 6,155 findings in
# ~14 ms instead of ~50; below, the csv module (a few hundred rows: polars' query costs more)
POLARS_CSV_FINDINGS = 1_000
assert all(len(p) == 1 for p in _FORMULA_STARTS), "_csv_by_polars tests one-character formula starts"


def to_csv(result) -> str:
    """findings.csv: one row per finding (FINDING_FIELDS, then WORKFLOW_FIELDS when the check was
    recorded), every text cell formula-safe (io.safe_cell), as the csv module writes it."""
    if len(result.findings) >= POLARS_CSV_FINDINGS:
        text = _csv_by_polars(result)
        if text is not None:
            return text
    return _csv_by_module(result)


def _csv_by_module(result) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    workflow = getattr(result, "workflow", None) is not None
    fields = FINDING_FIELDS + (WORKFLOW_FIELDS if workflow else ())
    w.writerow(fields)
    values = operator.attrgetter(*FINDING_FIELDS)
    for f in result.findings:
        vals = values(f)
        if workflow:
            st = _status(result, f.id)
            vals += tuple(st.get(k) for k in WORKFLOW_FIELDS)
        w.writerow(["" if v is None else safe_cell(v) for v in vals])
    return buf.getvalue()


WORKFLOW_FIELDS = ("status", "reason", "query", "response")


def _csv_by_polars(result) -> str | None:
    """_csv_by_module's text, written by polars (Rust), or None when a cell holds a carriage
    return (the csv module writes a bare CR unquoted, polars quotes it: that rare file is left to
    the module). Otherwise the two quote alike (a cell with a comma, quote or line feed; quotes
    doubled); the module writes None and "" both as an empty cell, polars an empty text as "",
    so empty texts go in as nulls; safe_cell is the same test as an expression."""
    import polars as pl

    fs = result.findings
    cols = {name: [getattr(f, name) for f in fs] for name in FINDING_FIELDS}
    schema = {name: (pl.Int64 if name == "row" else pl.String) for name in FINDING_FIELDS}
    if getattr(result, "workflow", None) is not None:
        states = [_status(result, f.id) if f.id in result.workflow else None for f in fs]
        for k in WORKFLOW_FIELDS:
            cols[k] = [st.get(k) if st is not None else ("open" if k == "status" else None) for st in states]
            schema[k] = pl.String
    try:
        df = pl.DataFrame(cols, schema=schema)
    except (TypeError, ValueError, pl.exceptions.PolarsError):   # a value of another type: the module writes it
        return None
    texts = [c for c, t in schema.items() if t == pl.String]
    if df.select(pl.any_horizontal(pl.col(texts).str.contains("\r", literal=True).any())).item():
        return None
    formula = pl.col(texts).str.slice(0, 1).is_in(list(_FORMULA_STARTS))   # safe_cell's test (one-character starts)
    safe = pl.when(pl.col(texts) == "").then(None).when(formula).then("'" + pl.col(texts)).otherwise(pl.col(texts))
    return df.with_columns(safe.name.keep()).write_csv(line_terminator="\n", quote_style="necessary")


def _status(result, fid: str) -> dict:
    from .batch.workflow import finding_status

    return finding_status(result, fid)


def status_note(result, fid: str) -> str:
    """What the text table says after a finding's message: its workflow status when not open."""
    st = _status(result, fid)
    parts = []
    if st.get("new"):
        parts.append("[NEW]")
    status = st.get("status")
    if status == "accepted":
        parts.append(f"[accepted: {st.get('reason') or ''}]")
    elif status == "queried":
        parts.append(f"[queried: {st.get('query') or ''}]")
    elif status == "answered":
        parts.append(f"[answered: {st.get('response') or ''} (query: {st.get('query') or ''})]")
    return (" " + " ".join(parts)) if parts else ""


def write_outputs(result, out_dir, json_text: str | None = None) -> list:
    """findings.json and findings.csv in `out_dir` ([json path, csv path]); `json_text`:
    to_json(result) when the caller has it already (check --format json prints the same text).

    findings.json is written on a second thread while this one makes and writes findings.csv:
    each atomic write ends with an fsync, ~1-2 ms of waiting for the disk (without the GIL), so
    the two waits overlap each other and the CSV's making. The JSON write's error, if any, is the
    one raised (it was the first written); either file is complete or absent, as before."""
    import threading
    from pathlib import Path

    out = Path(out_dir)
    text = json_text if json_text is not None else to_json(result)
    box: dict = {}

    def write_json() -> None:
        try:
            box["path"] = atomic_write_text(out / "findings.json", text)
        except BaseException as e:   # raised below, on the caller's thread
            box["error"] = e

    writer = threading.Thread(target=write_json, name="monitor-write-json", daemon=True)
    writer.start()
    try:
        csv_path = atomic_write_text(out / "findings.csv", to_csv(result))
    except BaseException:
        writer.join()
        if "error" in box:
            raise box["error"] from None
        raise
    writer.join()
    if "error" in box:
        raise box["error"]
    return [box["path"], csv_path]


def summary_line(result) -> str:
    c = result.by_severity()
    n = len(result.findings)
    parts = ", ".join(f"{c[s]} {s}" for s in ("critical", "major", "minor", "info") if c[s])
    line = f"{result.workbook}: {n} finding{'s' if n != 1 else ''}" + (f" ({parts})" if parts else "")
    if getattr(result, "workflow", None) is not None:
        summ = result.summary()
        st = ", ".join(f"{v} {k}" for k, v in summ["by_status"].items() if v and k != "open")
        news = [f"{summ[k]} {k}" for k in ("new", "resolved") if k in summ and (k == "new" or summ[k])]
        extra = "; ".join(x for x in (st, ", ".join(news)) if x)
        if extra:
            line += f"; {extra}"
    return line


_UNSAFE_FOR_TERMINAL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """Cell text printed to a terminal: control characters (ESC sequences could clear the screen
    or set the title) and bidi overrides are shown as \\uXXXX escapes, never interpreted."""
    return _UNSAFE_FOR_TERMINAL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _row(item) -> tuple:
    """(severity, rule, where, subject, message) of a finding, or of a Group of one cause: its
    first cell with the count, its subjects, the first message and the cells it is on."""
    if isinstance(item, Group):
        f = item.first
        msg = (f"{f.message}  [{item.count} rows like this: {item.cells_text()}]"
               + (f"  -> {f.suggestion}" if f.suggestion else ""))
        return (f.severity.upper(), f.rule, f"{f.where} +{item.count - 1}", item.subjects_text(), msg)
    f = item
    return (f.severity.upper(), f.rule, f.where, f.subject or "",
            f.message + (f"  -> {f.suggestion}" if f.suggestion else ""))


def _with_status(result, item, row: tuple) -> tuple:
    """The row with the workflow status after the message: a finding's own, or a group's counts."""
    if not isinstance(item, Group):
        return row[:4] + (row[4] + status_note(result, item.id),)
    counts: dict = {}
    for f in item.members:
        st = _status(result, f.id)
        for key in (st.get("status"), "NEW" if st.get("new") else None):
            if key and key != "open":
                counts[key] = counts.get(key, 0) + 1
    note = ", ".join(f"{n} {k}" for k, n in counts.items())
    return row[:4] + (row[4] + (f" [{note}]" if note else ""),)


def to_text(result, width: int | None = None) -> str:
    """A readable table: severity, rule, Sheet!Cell, subject, message (wrapped). A cause on
    many rows of a column (monitor.grouping) is one line with its count and first cells; the
    JSON and CSV keep every row."""
    width = width or max(80, min(shutil.get_terminal_size((120, 20)).columns, 160))
    items = grouped(result.findings)
    rows = [tuple(terminal_safe(x) for x in _with_status(result, it, _row(it))) for it in items]
    if not rows:
        return summary_line(result) + "\n"
    heads = ("SEVERITY", "RULE", "WHERE", "SUBJECT", "MESSAGE")
    w = [max(len(heads[i]), *(len(r[i]) for r in rows)) for i in range(4)]
    w = [min(x, 28) for x in w]
    msg_w = max(30, width - sum(w) - 8)
    lines = ["  ".join(h.ljust(w[i]) if i < 4 else h for i, h in enumerate(heads))]
    lines.append("  ".join("-" * (w[i] if i < 4 else min(msg_w, 40)) for i in range(5)))
    wrapper = _Wrapper(msg_w)
    for r in rows:
        msg = wrapper.wrap(r[4]) or [""]
        lines.append("  ".join(r[i][: w[i]].ljust(w[i]) for i in range(4)) + "  " + msg[0])
        pad = " " * (sum(w) + 8)
        lines.extend(pad + m for m in msg[1:])
    lines.append("")
    folded = sum(it.count for it in items if isinstance(it, Group))
    if folded:
        n_groups = sum(1 for it in items if isinstance(it, Group))
        lines.append(f"{folded} findings shown as {n_groups} grouped line{'s' if n_groups != 1 else ''} "
                     "(one cause on many rows); findings.json and findings.csv list every row with its group id.")
    lines.append(summary_line(result))
    return "\n".join(lines) + "\n"


class _Wrapper(textwrap.TextWrapper):
    """textwrap.wrap's lines exactly, with its words found faster. textwrap splits a text with
    one pattern whose lazy word match and look-arounds try every character (~60% of the text
    table of a 6,000-finding study). Its matches never span a space (its look-arounds only see
    letters and hyphens), so splitting each run of non-spaces on its own gives the same chunks:
    a run without a hyphen is one word, and only runs with one go through textwrap's pattern.

    `wrap`: most messages need no chunks at all. When a text has no whitespace but spaces, does
    not start with one, has no double hyphen and no word longer than the width, textwrap's
    greedy fill is: each line the longest run of whole chunks no longer than the width, the
    spaces after it dropped; a chunk ends before a space, at the end, or after a hyphen where
    textwrap's pattern breaks a word (_BREAK_AFTER). One regular expression finds those lines
    instead of textwrap's loop over the ~200,000 chunks of a study's text table (the table 78 ->
    32 ms); any other text goes through textwrap."""

    def __init__(self, width: int):
        super().__init__(width)
        self._line = None   # (a width below 1: textwrap's own error)
        if width >= 1:      # from a non-space, the most characters (at most the width) a chunk's end follows
            self._line = re.compile(r"[^ ].{0,%d}(?= |\Z)" % (width - 1), re.S)
            self._line_hyphens = re.compile(r"[^ ].{0,%d}(?= |\Z|%s)" % (width - 1, _BREAK_AFTER), re.S)
            self._long_word = re.compile(r"[^ ]{%d}" % (width + 1))

    def wrap(self, text):
        if self._line is None or _needs_textwrap(text):
            return super().wrap(text)
        hyphens = "-" in text
        if len(text) <= self.width and not hyphens:
            line = text.rstrip(" ")
            return [line] if line else []
        if self._long_word.search(text):
            return super().wrap(text)
        return [m.rstrip(" ") for m in (self._line_hyphens if hyphens else self._line).findall(text)]

    def _split(self, text):
        chunks = []
        for run in _RUNS.findall(text):
            if "-" in run:   # (a run of spaces has none)
                chunks.extend(c for c in self.wordsep_re.split(run) if c)
            else:
                chunks.append(run)
        return chunks


_RUNS = re.compile(r" +|[^ ]+")
# what only textwrap itself handles (_Wrapper.wrap): whitespace other than spaces (tabs and line
# breaks it turns into spaces; a word of only other whitespace, such as a no-break space, it drops
# at a line's start or end), a text that starts with a space (kept on its first line), a double
# hyphen (an em-dash to textwrap)
_OTHER_SPACE = re.compile(r"[^\S ]")
_ASCII_OTHER_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"   # the same, in ASCII (str.isspace)
assert {chr(i) for i in range(128) if chr(i).isspace()} == set(_ASCII_OTHER_SPACE + " ")
# where textwrap's pattern (TextWrapper.wordsep_re) ends a chunk inside a word: after a hyphen
# that two letters, or a letter, a hyphen and a letter, come before, and a letter, perhaps a
# hyphen, and a letter come after (a letter: a word character that is not a digit)
_LETTER = r"[^\d\W]"
_BREAK_AFTER = r"(?:(?<={L}{L}-)|(?<={L}-{L}-))(?={L}-?{L})".format(L=_LETTER)


def _needs_textwrap(text: str) -> bool:
    if text[:1] == " " or "--" in text:
        return True
    if text.isascii():   # (`in` is a byte search; a pattern of classes tries every character)
        return any(c in text for c in _ASCII_OTHER_SPACE)
    return _OTHER_SPACE.search(text) is not None


def not_evaluated_text(result) -> str:
    """The rules that did not run, once each, grouped by the reason (a missing column or sheet)."""
    groups: dict = {}
    for code, why in getattr(result, "not_evaluated", None) or ():
        groups.setdefault(why, []).append(code)
    lines = [f"not evaluated: {', '.join(codes)} ({terminal_safe(why)})" for why, codes in groups.items()]
    return "".join(line + "\n" for line in lines)


def statistics_text(result) -> str:
    """Per-rule counts, most frequent first (as `ruff --statistics` prints them)."""
    from .rules.registry import BY_CODE

    counts: dict = {}
    for f in result.findings:
        counts[f.rule] = counts.get(f.rule, 0) + 1
    if not counts:
        return ""
    width = len(str(max(counts.values())))
    lines = ["", "statistics:"]
    for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        rule = BY_CODE.get(code)
        name, sev = (rule.name, rule.severity.value) if rule else ("rule-crashed", "major")
        lines.append(f"{n:>{width}}  {code:<9} {name:<40} [{sev}]")
    return "\n".join(lines) + "\n"

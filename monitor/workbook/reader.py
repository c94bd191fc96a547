"""Read a site workbook into typed polars frames that keep each record's Excel row.

xlsx -> (zip checks) -> fastexcel/calamine reads every cell as text -> header row found by
the schema -> each column parsed by its declared kind (never inferred from the data).
The file is opened read-only and never written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .container import (  # noqa: F401  (also re-exported: callers import them from the reader)
    DEFAULT_MAX_UNPACKED_MB, WorkbookError, Limits, col_letter, col_index, open_container,
    _ZIP_ERRORS, _read_capped, sheet_parts, _WORKBOOK_PARTS, _PARSED_PARTS, check_shared_strings,
    _is_sheet_part, take_snapshot, _short,
)
from .load import load_sheet_frame, load_sheets, _reraise_if_not_calamine  # noqa: F401
from .sheetscan import scan_sheet_xml, check_extent, check_frame  # noqa: F401
from ..frames import STREAMING_ROWS
from .parse import DATE_FORMATS, DATE_IN, clean, column_stages, parse_column
from .snapshot import Snapshot
from .stacked import drive, drive_all, staged_select
from .schema import SHEET_ALIASES, SHEETS, STUDY, STUDY_FIELDS, Column, Kind, Sheet, columns_for, norm

HEADER_SCAN_ROWS = 30

# calamine logs through Python logging ("'Relationships' not a valid worksheet" for a sheet that
# points at another kind of part); with no handler configured Python would print that on stderr,
# beside the one-line error of exit 2. An application that configures logging still sees it.
logging.getLogger("calamine").addHandler(logging.NullHandler())


@dataclass
class SheetData:
    """One read sheet: its typed frame and where each field's column and header were found."""

    schema: Sheet
    name: str                                   # the sheet's name in the workbook
    header_row: int | None                      # Excel row number of the header
    frame: pl.DataFrame                         # `_row` + typed columns (+ `__raw`, `__err`)
    columns: dict = field(default_factory=dict)  # key -> (header as written, column letter)
    extra: list = field(default_factory=list)    # [(header as written, column letter)] not in the schema
    duplicates: list = field(default_factory=list)  # [(key, header, letter)] second mapping of a column
    missing: list = field(default_factory=list)  # [Column] required but absent
    first_col_letter: str = "A"

    def has(self, *keys: str) -> bool:
        return all(k in self.columns for k in keys)

    def letter(self, key: str) -> str | None:
        c = self.columns.get(key)
        return c[1] if c else None

    def header(self, key: str) -> str | None:
        c = self.columns.get(key)
        return c[0] if c else None


@dataclass
class Workbook:
    """A read workbook: its sheets' typed frames, the Study fields and what the scans found."""

    path: Path
    sha256: str
    sheet_names: list
    sheets: dict                                 # schema name -> SheetData
    study: dict                                  # Study field key -> (value, Excel row)
    formula_cells: list = field(default_factory=list)  # [(sheet name, cell)] formulas with no cached value
    hidden: list = field(default_factory=list)
    date_format: str | None = None
    study_value_col: str = "B"                   # column letter of the Study sheet's values
    snapshot: Snapshot | None = field(default=None, repr=False)   # the bytes everything was read from

    def get(self, name: str) -> SheetData | None:
        return self.sheets.get(name)






# ---------------------------------------------------------------- sheets and headers

MAX_NAME_CHARS = 200   # no header, alias, Study field or sheet name of the contract is longer


def _name_key(text) -> str | None:
    """norm(text) for a text short enough to be a header, a Study field or a sheet name; None
    for longer ones (they match nothing, and schema.norm's bracket regex is quadratic in the
    length of a text full of brackets: 10 s for one 32,767-character cell)."""
    if text is None:
        return None
    text = str(text)
    return norm(text) if len(text) <= MAX_NAME_CHARS else None


def match_sheets(names: list) -> dict:
    """Schema sheet name -> workbook sheet name (case, spaces, _/- and aliases ignored)."""
    by_norm = {}
    for n in names:
        by_norm.setdefault(_name_key(n), n)
    out = {}
    for s in SHEETS:
        for cand in (s.name, *SHEET_ALIASES.get(s.name, ())):
            if norm(cand) in by_norm:
                out[s.name] = by_norm[norm(cand)]
                break
    return out


def header_lookup(cols: tuple[Column, ...]) -> dict:
    m = {}
    for c in cols:
        for n in (c.name, c.header, *c.aliases):
            m.setdefault(norm(n), c)
    return m


def find_header(raw: pl.DataFrame, cols: tuple[Column, ...]) -> int | None:
    """Index of the first row (of the first HEADER_SCAN_ROWS) whose cells match the sheet's
    headers: at least two known headers, or all of them when the sheet has fewer."""
    lookup = header_lookup(cols)
    need = min(2, len(cols))
    for i, row in enumerate(raw.head(HEADER_SCAN_ROWS).iter_rows()):
        hits = {lookup[k].key for k in map(_name_key, row) if k in lookup}
        if len(hits) >= need:
            return i
    return None


CLEAN_BY_VALUE_ROWS = 20_000   # from this many rows, cells are cleaned per distinct text (below: in place)


def _cleaned(body: pl.DataFrame, raw_names: list) -> tuple[pl.DataFrame, dict | None]:
    """The sheet's cells stripped (blank -> null), without its completely empty rows (their
    numbers are never reused); and, for a large sheet, the distinct non-null cleaned texts of
    each column (parse_by_value needs them).

    A large sheet is cleaned per distinct text: a column's distinct values are few (600,000 lab
    rows hold ~1,000 subjects and dates, 40 tests, 11 units), stripping them is free, and a
    column where none changes (nearly always) is kept as it is, not copied: 0.54 -> ~0.1 s on a
    600,000-row Labs sheet."""
    keep_rows = pl.any_horizontal([pl.col(rn).is_not_null() for rn in raw_names])
    if body.height < CLEAN_BY_VALUE_ROWS or any(body.schema[rn] != pl.String for rn in raw_names):
        cleaned = body.lazy().select([pl.col("_idx")] + [clean(pl.col(rn)).alias(rn) for rn in raw_names])
        return cleaned.filter(keep_rows).collect(engine="in-memory"), None   # one query, not two
    distinct = pl.collect_all([body.lazy().select(pl.col(rn).unique()).with_columns(clean(pl.col(rn)).alias("_c"))
                               for rn in raw_names])
    exprs, uniqs = [pl.col("_idx")], {}
    for rn, d in zip(raw_names, distinct):
        changed = d.filter(pl.col(rn).ne_missing(pl.col("_c")))
        exprs.append(pl.col(rn) if changed.height == 0 else
                     pl.col(rn).replace(changed.get_column(rn), changed.get_column("_c")).alias(rn))
        uniqs[rn] = d.select(pl.col("_c").alias(rn)).filter(pl.col(rn).is_not_null()).unique()
    return body.select(exprs).filter(keep_rows), uniqs


def parse_by_value(df: pl.DataFrame, cols: list[tuple[str, Column]], date_format,
                   uniqs: dict | None = None) -> tuple[pl.DataFrame, list[list]]:
    """_parse_steps of one frame, its stage runs run alone (stacked.drive)."""
    return drive(_parse_steps(df, cols, date_format, uniqs))


def _parse_steps(df: pl.DataFrame, cols: list[tuple[str, Column]], date_format, uniqs: dict | None = None):
    """Typed expressions for each (raw column, column spec) of `cols`: each distinct cell text
    of a column is parsed once, then the results are mapped back. Returns the frame to select
    them from (`df`, with the parts of small date and number columns parsed in place added: see
    below).

    A study's 600k lab rows hold a few thousand distinct dates, units and tests; parsing
    distinct values and mapping them back (a hash lookup) is much cheaper than running
    every parser branch on every row. Blank cells map to null value and no error. The
    distinct values of all columns, then the parses, are each one `collect_all`.

    A date column's parse is ~40 expressions deep, and on a small frame its cost is the
    expressions, not the rows: its parts are computed as columns, a few `with_columns` in
    turn (parse.column_stages, ~2 ms instead of 7-11 ms a column), for its distinct values and,
    below STAGED_IN_PLACE_ROWS rows, in place too: a sheet's in-place date columns of one kind
    stacked into one column, so the stages run once for all of them (a generator: it yields
    those runs and is sent their outputs, so a read runs them with the other sheets', see
    stacked.py). Number and integer columns
    the same (their pattern is matched once per cell, not at each of its ~10 references in the
    plain tree: parse.number_stages). A frame of fewer than
    IN_PLACE_ROWS rows (most sheets of a site workbook) is parsed in place throughout: for a
    few hundred rows, finding the distinct values and mapping the parses back costs more than
    parsing every row.
    """
    # the streaming engine from STREAMING_ROWS rows: below, its start (and its threads, started
    # at its first use in a process) costs more than the query
    engine = "in-memory" if df.height < STREAMING_ROWS else "auto"
    if uniqs is not None:   # from _cleaned
        uniqs = [uniqs[rn] for rn, _ in cols]
    elif df.height < IN_PLACE_ROWS:
        uniqs = [None] * len(cols)
    else:
        uniqs = pl.collect_all([df.lazy().select(pl.col(rn).unique()).filter(pl.col(rn).is_not_null())
                                for rn, _ in cols], engine=engine) if cols else []
    staged = [column_stages(rn, col, date_format) for rn, col in cols]
    # mostly distinct values: parse in place
    by_value = [i for i, u in enumerate(uniqs) if u is not None and not u.height * 4 > df.height]
    plain = [i for i in by_value if not staged[i][0]]
    parsed = dict(zip(plain, pl.collect_all(
        [uniqs[i].lazy().select(pl.col(cols[i][0]), *parse_column(*cols[i], date_format)) for i in plain],
        engine=engine)
        if plain else []))
    for i in by_value:
        if i not in parsed:   # a date or number column's stages read DATE_IN (parse.column_stages)
            rn = cols[i][0]
            parsed[i] = staged_select(uniqs[i].with_columns(pl.col(rn).alias(DATE_IN)), [pl.col(rn)], *staged[i])
    out, in_place, indexes = [], {}, []
    for i, (rn, col) in enumerate(cols):
        if i not in parsed:
            stages, exprs = staged[i]
            if stages and df.height < STAGED_IN_PLACE_ROWS:
                in_place.setdefault(id(stages), []).append(i)
                out.append(None)   # below
            else:
                out.append(parse_column(rn, col, date_format))
            continue
        index, exprs = _mapped_back(parsed[i], rn)
        out.append(exprs)
        if index is not None:
            indexes.append(index)
    if indexes:   # every column's row -> distinct-text index, in one with_columns (in parallel)
        df = df.with_columns(indexes)
    # the in-place date (number) columns with the same stages (kind), stacked: one run of the stages
    # for all of them, each column's rows then taken back as its own typed columns
    typed, groups = [], list(in_place.values())
    runs = (yield [(*staged[group[0]], pl.concat([df.select(pl.col(cols[i][0]).alias(DATE_IN)) for i in group],
                                                  rechunk=True)) for group in groups]) if groups else []
    for group, stacked in zip(groups, runs):
        for j, i in enumerate(group):
            names = [e.meta.output_name() for e in staged[i][1]]
            part = stacked.slice(j * df.height, df.height)
            typed += [s.alias(f"{cols[i][0]}\x1f{n}") for s, n in zip(part.get_columns(), names)]
            out[i] = [pl.col(f"{cols[i][0]}\x1f{n}").alias(n) for n in names]
    return (df.with_columns(typed) if typed else df), out


IN_PLACE_ROWS = 1_000           # a smaller frame parses every column in place (no distinct values, no mapping back)
STAGED_IN_PLACE_ROWS = 20_000   # a larger frame parses a mostly-distinct date or number column in one select (no part columns)


def _mapped_back(p: pl.DataFrame, rn: str) -> tuple[pl.Expr | None, list]:
    """(an index column to add to the frame, or None; the expressions that map column `rn` to
    each typed column of `p`: its distinct texts and their parses). An output is the column
    itself where the parse changes no text (_unchanged), a null column where no distinct text
    has a value (most error and qualifier columns: no hash lookup over every row), else a lookup
    of each row's text; two or more lookups (a number's value, qualifier and error) share one:
    the row's index among the distinct texts is looked up once (hashing 600,000 texts is the
    cost) and each output gathers by it (~3x faster for three)."""
    old, same = p.get_column(rn), _unchanged(p, rn)
    out, looked = [], []
    for name in p.columns:
        if name == rn:
            continue
        if name in same:
            out.append(pl.col(rn).alias(name))
        elif p.get_column(name).null_count() == p.height:
            out.append(pl.lit(None, dtype=p.schema[name]).alias(name))
        else:
            looked.append(len(out))
            out.append(pl.col(rn).replace_strict(old, p.get_column(name), default=None,
                                                 return_dtype=p.schema[name]).alias(name))
    if len(looked) < 2:
        return None, out
    index = f"__index:{rn}"
    positions = pl.Series(range(p.height), dtype=pl.UInt32)
    for j in looked:
        name = out[j].meta.output_name()
        out[j] = pl.lit(p.get_column(name)).gather(pl.col(index)).alias(name)
    return pl.col(rn).replace_strict(old, positions, default=None, return_dtype=pl.UInt32).alias(index), out


def _unchanged(parsed: pl.DataFrame, rn: str) -> set:
    """The text columns of `parsed` (distinct cell texts -> typed values) equal to the text for
    every distinct value: a subject ID, a test name, a unit as written. Those are the column
    itself (its buffers shared), not a mapped copy: a mapped text column is a new 16-byte view
    per row, ~10 MB per column of a 600,000-row sheet."""
    names = [n for n in parsed.columns if n != rn and parsed.schema[n] == parsed.schema[rn] == pl.String]
    if not names:
        return set()
    differs = parsed.select(pl.col(n).ne_missing(pl.col(rn)).any() for n in names).row(0)
    return {n for n, d in zip(names, differs) if not d}


def build_sheet(schema: Sheet, name: str, raw: pl.DataFrame, first_col: int, drugs, date_format) -> SheetData:
    """One sheet's SheetData from its raw frame (_sheet_steps, its stage runs run alone)."""
    return drive(_sheet_steps(schema, name, raw, first_col, drugs, date_format))


def build_sheets(jobs: dict) -> dict:
    """name -> SheetData for `jobs` (name -> build_sheet's arguments), their date and number
    columns parsed together (stacked.drive_all): each kind's stages run once for all sheets."""
    return drive_all({name: _sheet_steps(*args) for name, args in jobs.items()})


def _sheet_steps(schema: Sheet, name: str, raw: pl.DataFrame, first_col: int, drugs, date_format):
    cols = columns_for(schema, drugs)
    raw_names = raw.columns
    hdr = find_header(raw, cols) if raw.height else None
    if hdr is None:
        return SheetData(schema, name, None, pl.DataFrame({"_row": pl.Series([], dtype=pl.Int64)}),
                         missing=[c for c in cols if c.required], first_col_letter=col_letter(first_col))
    lookup = header_lookup(cols)
    header_vals = raw.row(hdr)
    mapping, extra, dups = {}, [], []
    body = raw.slice(hdr + 1).with_row_index("_idx", offset=hdr + 1)
    exprs = [(pl.col("_idx").cast(pl.Int64) + 1).alias("_row")]
    raw_keep = []
    for j, h in enumerate(header_vals):
        letter = col_letter(first_col + j)
        rn = raw_names[j]
        if h is None or not str(h).strip():
            if body.get_column(rn).drop_nulls().len():
                extra.append((f"(no header in column {letter})", letter))
                raw_keep.append((rn, f"x:{letter}"))
            continue
        c = lookup.get(_name_key(h))
        if c is None:
            extra.append((str(h).strip(), letter))
            raw_keep.append((rn, f"x:{str(h).strip()}"))
            continue
        if c.key in mapping:
            dups.append((c.key, str(h).strip(), letter))
            continue
        mapping[c.key] = (str(h).strip(), letter, rn, c)
    cleaned, uniqs = _cleaned(body, raw_names)
    cleaned, typed = yield from _parse_steps(cleaned, [(rn, c) for _, _, rn, c in mapping.values()], date_format,
                                             uniqs)
    for (key, (h, letter, rn, c)), parsed in zip(mapping.items(), typed):
        exprs.append(pl.col(rn).alias(f"{key}__raw"))
        exprs.extend(parsed)
    used = set()
    for rn, newname in raw_keep:  # two unknown columns may share a header ("Notes", "Notes")
        if newname in used:
            newname = f"{newname} ({col_letter(first_col + raw_names.index(rn))})"
        used.add(newname)
        exprs.append(pl.col(rn).alias(newname))
    frame = _lean(cleaned.select(exprs))
    missing = [c for c in cols if c.required and c.key not in mapping]
    return SheetData(schema, name, hdr + 1, frame,
                     columns={k: (v[0], v[1]) for k, v in mapping.items()},
                     extra=extra, duplicates=dups, missing=missing, first_col_letter=col_letter(first_col))


def _lean(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with each column that holds no value (most `__err` and `__q` columns) rebuilt
    as a null column: a text column mapped from distinct values keeps a 16-byte view per row
    even when every row is null (~10 MB per column of a 600,000-row sheet, ~100 MB for Labs,
    copied again by every filter and join downstream). Values and types are unchanged. A frame
    of fewer than CLEAN_BY_VALUE_ROWS rows is left as it is: its views are a few hundred KB at
    most, and the null literals cost more (~0.1 ms a column, ~10 ms a site workbook) than
    they save."""
    if frame.height < CLEAN_BY_VALUE_ROWS:
        return frame
    empty = [c for c, s in zip(frame.columns, frame.iter_columns()) if frame.height and s.null_count() == frame.height]
    return frame.with_columns(pl.lit(None, dtype=frame.schema[c]).alias(c) for c in empty) if empty else frame


def read_study(raw: pl.DataFrame) -> dict:
    """Study sheet: Field/Value pairs -> {field key: (value, Excel row)}."""
    out = {}
    hdr = find_header(raw, STUDY.columns)
    start = 0 if hdr is None else hdr + 1
    if raw.width < 2:
        return out
    for i, row in enumerate(raw.slice(start).iter_rows(), start=start):
        f, v = row[0], row[1]
        if f is None:
            continue
        key = _name_key(f)
        if key in STUDY_FIELDS and key not in out:
            out[key] = ((str(v).strip() if v is not None else None), i + 1)
    return out


def read_workbook(path, drugs=(), max_unpacked_mb: float = DEFAULT_MAX_UNPACKED_MB,
                  limits: Limits | None = None) -> Workbook:
    """Read the workbook at `path` (or a Snapshot of it: the file is then not opened again).
    Raises WorkbookError when it cannot be read at all or is over a limit (`limits`, default
    Limits(max_unpacked_mb=max_unpacked_mb)). Every part is parsed from the one snapshot; the
    order of the checks is in load.py. The sheets loaded first are built while the largest one
    is still loading."""
    limits = limits or Limits(max_unpacked_mb=max_unpacked_mb)
    snap = path if isinstance(path, Snapshot) else take_snapshot(path, limits.max_unpacked_mb)
    path = snap.path
    zf = open_container(snap, limits.max_unpacked_mb)
    try:
        loaded = load_sheets(snap, zf, limits, match_sheets, SHEETS)
    finally:
        zf.close()
    try:
        early, sheets, fmt, study = loaded.early(), {}, None, None
        if "Study" in early and loaded.loading():   # else all are loaded: one build of them all
            study, fmt = _study(loaded.frame("Study"))
            sheets = _build(loaded, [s for s in early if s != "Study"], drugs, fmt)
        loaded.wait()
        if study is None:
            study, fmt = _study(loaded.frame("Study"))
        sheets.update(_build(loaded, [s for s in loaded.matched if s != "Study" and s not in sheets], drugs, fmt))
    finally:
        loaded.close()
    matched, scans = loaded.matched, loaded.scans
    sheets = {s.name: sheets[s.name] for s in SHEETS if s.name in sheets}   # contract order
    formula_cells = [(matched[s], cell) for s, (_, cells) in scans.items() for cell in cells]
    hidden = [n for n, (_, h) in loaded.parts.items() if h]
    return Workbook(path, snap.sha256, loaded.names, sheets, study, formula_cells, hidden, fmt,
                    col_letter(scans["Study"][0] + 1), snap)


def _study(raw: pl.DataFrame) -> tuple[dict, str | None]:
    """The Study sheet's fields and the date format it declares (DD/MM/YYYY or MM/DD/YYYY)."""
    study = read_study(raw)
    fmt = None
    if "dateformat" in study and study["dateformat"][0]:
        v = study["dateformat"][0].strip().upper().replace(" ", "")
        fmt = v if v in DATE_FORMATS else None
    return study, fmt


def _build(loaded, names: list, drugs, fmt) -> dict:
    """The named sheets (all loaded: nothing here waits for the loading thread), built on a polars
    worker thread (monitor/pool.py): a sheet's typed parse is ~20 small queries."""
    from ..pool import on_pool

    by_name = {s.name: s for s in SHEETS}
    return on_pool(lambda: build_sheets({n: (by_name[n], loaded.matched[n], loaded.frame(n), loaded.scans[n][0],
                                             drugs, fmt) for n in names}))

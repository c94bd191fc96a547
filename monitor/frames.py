"""Frame helpers shared by the derived tables."""

from __future__ import annotations

import polars as pl

# below this many input rows a query runs on polars' in-memory engine, at or above it on the
# default ("auto": streaming) one: the streaming engine costs ~1 ms more to start (a site's
# 3,000-row Labs join: 1.3 ms against 0.4 ms), its joins and group_bys peak lower on a whole
# study's 600,000 rows (the measurements in join_columns and with_lab_codes were made with it)
STREAMING_ROWS = 50_000


def lookup_set(values, dtype=pl.String) -> pl.Series:
    """`values` in the form `Expr.is_in` looks in without converting anything: a one-element list
    Series. The caller builds it once and keeps it; `is_in` of a Python tuple or list builds a
    Series at every call (~30 us for the ~300 missing-marker spellings; this ~2 us). Built
    directly as a list Series (Series.implode would run a query: ~3x the cost)."""
    return pl.Series([list(values)], dtype=pl.List(dtype))


def mapping_series(mapping: dict, dtype, key_dtype=pl.String) -> tuple[pl.Series, pl.Series]:
    """(old, new) Series of `mapping` for `Expr.replace_strict(old, new, ...)`, the same mapping as
    `replace_strict(mapping)`: built once by the caller and kept (replace_strict of a dict
    builds both Series at every call: ~0.4 ms for the catalogue's ~2,600 names)."""
    return pl.Series(list(mapping), dtype=key_dtype), pl.Series(list(mapping.values()), dtype=dtype)


def collect_sized(lf: pl.LazyFrame, rows: int) -> pl.DataFrame:
    """`lf.collect()` on the engine that suits an input of `rows` rows (STREAMING_ROWS)."""
    return lf.collect(engine="in-memory") if rows < STREAMING_ROWS else lf.collect()


def join_columns(frame: pl.DataFrame, right: pl.DataFrame, on, **kwargs) -> pl.DataFrame:
    """`frame.join(right, on, how="left", maintain_order="left")` for a `right` with one row per
    key: the same frame, built by joining only the key columns and adding `right`'s other columns
    beside `frame`'s own. A left join gathers every column of its left side into a new frame;
    here the columns of `frame` are shared, not copied (a 600,000-row Labs frame is ~160 MB), and
    only `right`'s columns are built. `kwargs` go to the join (nulls_equal ...)."""
    on = [on] if isinstance(on, str) else list(on)
    added = [c for c in right.columns if c not in on]
    if len(frame.columns) <= len(on) + 1 or not added:
        return frame.join(right, on=on, how="left", maintain_order="left", **kwargs)
    # one lazy query, so the joined key columns are never gathered either (a 600,000-row join on
    # three text keys peaked ~45 MiB lower than the eager join and select); the join itself in
    # any order when there are several keys, put back in row order by a row index: on polars
    # 2.1's streaming engine that is ~2x faster than maintain_order="left" (the labs' baseline
    # join on subject and test: ~0.13 -> ~0.05 s); on one key it is slower, so there the join
    # keeps order
    keys = frame.lazy().select(on)
    if len(on) > 1:
        new = (keys.with_row_index("__join_row").join(right.lazy(), on=on, how="left", maintain_order="none", **kwargs)
               .sort("__join_row"))
    else:
        new = keys.join(right.lazy(), on=on, how="left", maintain_order="left", **kwargs)
    new = collect_sized(new.select(added), frame.height)
    if new.height != frame.height:
        raise ValueError("join_columns: the right side has more than one row for a key")
    return frame.hstack(new.get_columns())

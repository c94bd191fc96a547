"""monitor/frames.py: join_columns is a left join that shares the left frame's columns."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.frames import join_columns  # noqa: E402

LEFT = pl.DataFrame({"row": [1, 2, 3, 4, 5, 6], "subject": ["a", "b", None, "a", "c", "b"],
                     "test": ["ALT", "AST", "ALT", None, "ALT", "AST"], "v": [1.0, 2.0, 3.0, None, 5.0, 6.0]})
RIGHT = pl.DataFrame({"subject": ["b", "a", None, "a"], "test": ["AST", "ALT", "ALT", None],
                      "base": [20.0, 10.0, 99.0, 7.0], "flag": [True, False, True, None]})


@pytest.mark.parametrize("nulls_equal", [False, True])
def test_join_columns_equals_the_left_join_in_left_order(nulls_equal):
    got = join_columns(LEFT, RIGHT, ["subject", "test"], nulls_equal=nulls_equal)
    want = LEFT.join(RIGHT, on=["subject", "test"], how="left", maintain_order="left", nulls_equal=nulls_equal)
    assert got.equals(want)
    assert got.columns == want.columns
    assert got.get_column("base").to_list() == ([10.0, 20.0, 99.0, 7.0, None, 20.0] if nulls_equal
                                                else [10.0, 20.0, None, None, None, 20.0])


def test_join_columns_on_one_key_and_on_a_frame_of_keys_only():
    right = pl.DataFrame({"subject": ["a", "b"], "first_dose": [1, 2]})
    assert join_columns(LEFT, right, "subject").equals(
        LEFT.join(right, on="subject", how="left", maintain_order="left"))
    keys = LEFT.select("subject")
    assert join_columns(keys, right, "subject").equals(keys.join(right, on="subject", how="left", maintain_order="left"))


def test_join_columns_refuses_a_right_side_with_two_rows_of_a_key():
    """Two rows of one key would add rows to a left join; the columns could not sit beside the
    left frame's own, so it says so instead of misaligning them."""
    right = pl.DataFrame({"subject": ["a", "a"], "x": [1, 2]})
    with pytest.raises(ValueError, match="more than one row"):
        join_columns(LEFT, right, "subject")


def test_join_columns_on_two_keys_keeps_the_row_order_of_a_large_frame():
    """On several keys the join runs in any order and is put back by a row index (faster than
    maintain_order="left" on polars 2.1); on 200,000 rows the join is split across threads, so
    the order really is shuffled before it is put back."""
    import random

    rnd = random.Random(7)
    n = 200_000
    left = pl.DataFrame({"subject": [f"s{rnd.randrange(1000)}" for _ in range(n)],
                         "test": [rnd.choice(["ALT", "AST", "TSH", None]) for _ in range(n)],
                         "v": list(range(n))})
    right = (left.select("subject", "test").unique().sample(fraction=0.7, seed=1)
             .with_columns(pl.int_range(0, pl.len()).alias("base")))
    got = join_columns(left, right, ["subject", "test"])
    assert got.equals(left.join(right, on=["subject", "test"], how="left", maintain_order="left"))


# ---------------------------------------------------------------- lookup_set, mapping_series

from hypothesis import given, settings, strategies as st  # noqa: E402

from monitor.frames import lookup_set, mapping_series  # noqa: E402

_TEXT = st.one_of(st.none(), st.text(alphabet="aAbB1 -", max_size=3))


@settings(max_examples=60, deadline=None)
@given(st.lists(_TEXT, max_size=12), st.lists(st.text(alphabet="aAbB1 -", max_size=3), max_size=8))
def test_is_in_a_lookup_set_equals_is_in_the_python_values(cells, values):
    df = pl.DataFrame({"x": cells}, schema={"x": pl.String})
    want = df.select(pl.col("x").is_in(tuple(values))).to_series()
    got = df.select(pl.col("x").is_in(lookup_set(values))).to_series()
    assert got.to_list() == want.to_list()


@settings(max_examples=60, deadline=None)
@given(st.lists(_TEXT, max_size=12),
       st.dictionaries(st.text(alphabet="aAbB1 -", max_size=3), st.one_of(st.none(), st.booleans()), max_size=8))
def test_replace_strict_of_mapping_series_equals_replace_strict_of_the_dict(cells, mapping):
    df = pl.DataFrame({"x": cells}, schema={"x": pl.String})
    want = df.select(pl.col("x").replace_strict(mapping, default=None, return_dtype=pl.Boolean)).to_series()
    got = df.select(pl.col("x").replace_strict(*mapping_series(mapping, pl.Boolean), default=None,
                                               return_dtype=pl.Boolean)).to_series()
    assert got.to_list() == want.to_list()
    assert got.dtype == want.dtype


def test_a_lookup_set_is_read_without_a_deprecation_warning():
    # is_in of a plain Series of the column's type is deprecated in polars (ambiguous); the
    # one-element list form is the documented one
    import warnings

    df = pl.DataFrame({"x": ["nd", None, "ok"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert df.select(pl.col("x").is_in(lookup_set(["nd"]))).to_series().to_list() == [True, None, False]


def test_emit_of_no_rows_gives_a_fresh_empty_findings_frame_each_time():
    """emit answers no rows with a copy of one frame built once: the same schema, and a caller
    changing its copy changes no other."""
    from monitor.rules.base import FRAME_SCHEMA, _NO_FINDINGS

    first, second = _NO_FINDINGS.clone(), _NO_FINDINGS.clone()
    first.insert_column(0, pl.Series("x", [], dtype=pl.Int8))
    assert second.schema == pl.Schema(FRAME_SCHEMA) and _NO_FINDINGS.schema == pl.Schema(FRAME_SCHEMA)

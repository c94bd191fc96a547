"""The shortcuts the rule phase takes for speed give exactly what the plain polars forms give
(order included: what follows them takes the first of a group or sorts with ties)."""

from __future__ import annotations

import random

import polars as pl
import pytest

from monitor.derive.exposure import join_in_order, join_rows
from monitor.rules.dosing import _previous_in_group
from monitor.workbook.parse import is_missing_marker


def _frames(n: int, m: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    rnd = random.Random(seed)
    left = pl.DataFrame({"k": [rnd.choice("abcde") for _ in range(n)], "r": [rnd.randint(0, 3) for _ in range(n)]},
                        schema={"k": pl.String, "r": pl.Int64}).with_row_index("i")
    right = pl.DataFrame({"k": [rnd.choice("abcdef") for _ in range(m)], "r": [rnd.randint(0, 3) for _ in range(m)]},
                         schema={"k": pl.String, "r": pl.Int64}).with_row_index("j")
    return left, right


@pytest.mark.parametrize("n,m", [(1, 1), (5, 10), (10, 10), (10, 5), (44, 44), (45, 44), (20, 44), (3000, 44),
                                 (999, 1000), (1000, 999)])
@pytest.mark.parametrize("on", [["k"], ["k", "r"]])
def test_join_in_order_is_polars_default_inner_join_order(n, m, on):
    left, right = _frames(n, m, n * 7 + m)
    assert join_in_order(left, right, on, left.height, right.height).equals(left.join(right, on=on))
    assert join_rows(left, right, on) == left.join(right, on=on).height


@pytest.mark.parametrize("n,m", [(5, 10), (400, 30), (30, 400), (44, 44)])
def test_join_in_order_of_filtered_inputs_is_the_filtered_full_join(n, m):
    left, right = _frames(n, m, n + m)
    full = left.join(right, on="k").filter(pl.col("r_right") == 1, pl.col("i") % 3 != 0)
    part = join_in_order(left.filter(pl.col("i") % 3 != 0), right.filter(pl.col("r") == 1), "k",
                         left.height, right.height)
    assert part.equals(full)


def test_previous_in_group_is_shift_over_group():
    rnd = random.Random(3)
    df = pl.DataFrame({"s": [rnd.choice("xyz") for _ in range(300)], "d": [rnd.choice("AB") for _ in range(300)],
                       "c": [rnd.randint(1, 9) for _ in range(300)]}).sort("s", "d", "c")
    assert df.select(_previous_in_group("c", ["s", "d"])).to_series().equals(
        df.select(pl.col("c").shift(1).over("s", "d")).to_series())


def test_missing_marker_matches_in_any_case_exactly_like_lowercasing():
    rnd = random.Random(4)
    alphabet = list("nNdDaAoOtTeEkKuU/- x") + ["\u212a", "\u0130", "\u0131"]
    texts = ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 8))) for _ in range(20000)]
    texts += ["ND", "nd", "N/A", "Not Done", "NOTDONE", "UNK", "U\u212aN".lower(), "-", "", None]
    s = pl.Series("t", texts, dtype=pl.String)
    fast = pl.DataFrame(s).select(is_missing_marker(pl.col("t"))).to_series()
    plain = s.str.to_lowercase().is_in(["nd", "na", "n/a", "notdone", "not done", "nk", "unk", "-"])
    assert fast.equals(plain.alias("t"))
    assert fast.sum() > 10


def _labs_sheet(frame: pl.DataFrame):
    from monitor.workbook.reader import SheetData
    from monitor.workbook.schema import SHEETS

    schema = next(s for s in SHEETS if s.name == "Labs")
    return SheetData(schema, "Labs", 1, frame, {k: (k, "A") for k in ("subject", "date", "test", "result")})


def test_emit_of_no_rows_is_what_the_query_gives():
    from monitor.rules.base import FRAME_SCHEMA, emit, quoted

    frame = pl.DataFrame({"_row": [5, 6], "subject": ["001", "002"], "subject__raw": ["001", "002"],
                          "date__raw": ["d", "d"], "test__raw": ["ALT", "AST"], "result__raw": ["x", "y"]})
    sd = _labs_sheet(frame)
    msg = pl.lit("Result ") + quoted(pl.col("result__raw"))
    empty = emit(sd, frame.head(0), "result", msg)
    assert empty.schema == pl.Schema(FRAME_SCHEMA) and empty.height == 0
    # the query on the same empty frame (the path a non-empty frame takes) gives the same frame
    assert empty.equals(emit(sd, frame.head(0).lazy(), "result", msg))
    assert emit(sd, frame, "result", msg).height == 2


def test_emit_of_no_rows_still_reports_a_column_the_frame_lacks():
    from monitor.rules.base import emit

    frame = pl.DataFrame({"_row": [5], "subject": ["001"]}).head(0)
    with pytest.raises(pl.exceptions.ColumnNotFoundError):
        emit(_labs_sheet(frame), frame, None, pl.col("no_such_column"), key=pl.lit("k"))


def test_latest_before_without_unknown_dates_is_the_general_path_minus_the_unknown_rows():
    from datetime import date

    from monitor.derive.exposure import _latest_before

    left = pl.DataFrame({"row": [1, 2, 3, 4], "subject": ["a", "a", "b", "a"],
                         "date": [date(2024, 1, 10), date(2024, 2, 1), date(2024, 1, 5), None]})
    right = pl.DataFrame({"subject": ["a", "a", "b"], "wdate": [date(2024, 1, 1), date(2024, 1, 20), date(2024, 1, 6)],
                          "w": [70.0, 71.0, 60.0]})
    general = _latest_before(left, right, "date", "wdate")          # has a null date: the general path
    shortcut = _latest_before(left.filter(pl.col("date").is_not_null()), right, "date", "wdate")
    assert shortcut.equals(general.filter(pl.col("date").is_not_null()))
    assert general.filter(pl.col("row") == 4).get_column("w").to_list() == [None]
    assert shortcut.sort("row").get_column("w").to_list() == [70.0, 71.0, None]


def test_repeated_lab_keys_are_found_like_is_duplicated():
    from datetime import date

    from monitor.rules.labs import _maybe_repeated

    rnd = random.Random(5)
    keys = ["subject", "date", "test_code"]
    df = pl.DataFrame({"subject": [rnd.choice(["001", "002", None]) for _ in range(3000)],
                       "date": [rnd.choice([date(2024, 1, d) for d in range(1, 29)] + [None]) for _ in range(3000)],
                       "test_code": [rnd.choice(["ALT", "AST", "HGB", "PLAT", None]) for _ in range(3000)]})
    fast = df.select(_maybe_repeated(df, keys)).to_series()
    assert fast.equals(df.select(pl.struct(keys).is_duplicated()).to_series().alias(fast.name))
    assert 0 < fast.sum() < df.height

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

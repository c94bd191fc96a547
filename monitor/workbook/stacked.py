"""The date and number stages of the typed parse, run once for many columns.

A small sheet's date (number) columns of one kind are parsed in place as one stacked column: the
kind's stages (parse.column_stages: a few `with_columns`, then the typed outputs) run once for
all of them, since on a few hundred rows their cost is the expressions, not the rows. A read of
several sheets does the same across the sheets (reader.build_sheets): on a site workbook that is
one run of each kind for its early sheets instead of one per sheet (18 runs -> 8).

Each sheet's parse is a generator of steps (reader._sheet_steps): it yields the runs it needs,
[(stages, output expressions, frame of the one input column)], and is sent back each run's
output frame. `drive` answers one sheet's, `drive_all` those of every sheet at once: runs of the
same stages, outputs and input type are one run over their frames stacked in order, and each
sheet gets its own rows back. The stages are elementwise (a row's parse never reads another
row), so a row's values do not depend on what it is stacked with.
"""

from __future__ import annotations

import polars as pl


def with_stages(df: pl.DataFrame, stages: list) -> pl.DataFrame:
    for st in stages:
        df = df.with_columns(st)
    return df


def staged_select(df: pl.DataFrame, keep: list, stages: list, exprs: list) -> pl.DataFrame:
    return with_stages(df, stages).select(*keep, *exprs)


def run_stacked(requests: list) -> list:
    """The output frame of each (stages, exprs, frame) of `requests`, in order; those with the
    same stages, the same number of outputs and the same input types run as one."""
    groups: dict = {}
    for i, (stages, exprs, frame) in enumerate(requests):
        groups.setdefault((id(stages), len(exprs), tuple(frame.dtypes)), []).append(i)
    out: list = [None] * len(requests)
    for members in groups.values():
        stages, exprs, frame = requests[members[0]]
        if len(members) == 1:
            out[members[0]] = staged_select(frame, [], stages, exprs)
            continue
        stacked = staged_select(pl.concat([requests[i][2] for i in members], rechunk=True), [], stages, exprs)
        at = 0
        for i in members:
            height = requests[i][2].height
            out[i] = stacked.slice(at, height)
            at += height
    return out


def drive(steps):
    """The value of one parse's steps, each run it asks for run here."""
    try:
        asked = next(steps)
        while True:
            asked = steps.send(run_stacked(asked))
    except StopIteration as done:
        return done.value


def drive_all(steps: dict) -> dict:
    """name -> the value of each parse's steps (`steps`: name -> generator), the runs all of
    them ask for at each step run together (run_stacked); in the order of `steps`."""
    done, asked = {}, {}
    for name, s in steps.items():
        try:
            asked[name] = next(s)
        except StopIteration as e:
            done[name] = e.value
    while asked:
        answers = iter(run_stacked([r for runs in asked.values() for r in runs]))
        given = {name: [next(answers) for _ in runs] for name, runs in asked.items()}
        asked = {}
        for name, results in given.items():
            try:
                asked[name] = steps[name].send(results)
            except StopIteration as e:
                done[name] = e.value
    return {name: done[name] for name in steps}

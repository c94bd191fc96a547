"""`monitor export`: the cleaned tables as CSV and Parquet, one file per sheet plus findings and
the protocol tables (dosing, markers, recist).

Each table keeps `row` (the Excel row of the record) so every value can be traced to its cell.
Text that could run as a formula in a spreadsheet is neutralised in the CSV files; Parquet keeps
values exactly.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .derive.labs import graded_labs
from .findings import FINDING_FIELDS
from .io import atomic_path, safe_text_columns

TABLES = {"Subjects": "subjects", "Cycles": "cycles", "AdverseEvents": "adverse_events",
          "Vitals": "vitals", "Tumor": "tumor"}


def clean_table(sd) -> pl.DataFrame:
    """Typed columns of a sheet, `row` first; partial dates keep their earliest/latest day."""
    if sd is None or sd.header_row is None:
        return pl.DataFrame({"row": pl.Series([], dtype=pl.Int64)})
    keep = ["_row"]
    for key in sd.columns:
        keep.append(key)
        if f"{key}__q" in sd.frame.columns:
            keep.append(f"{key}__q")
        if f"{key}__lo" in sd.frame.columns:
            keep += [f"{key}__lo", f"{key}__hi"]
    df = sd.frame.select(keep)
    return df.rename(lambda c: "row" if c == "_row" else c.replace("__q", "_qualifier")
                     .replace("__lo", "_earliest").replace("__hi", "_latest"))


def build_tables(result, catalogue, profile=None) -> dict:
    """Every export table. `profile`: the profile the check used (default: the bundled profile
    of that name, else the default profile); the protocol tables (dosing, markers, recist) need it."""
    wb = result.wb
    out = {name: clean_table(wb.get(sheet)) for sheet, name in TABLES.items()}
    out["labs"] = graded_labs(wb.get("Labs"), wb.get("Cycles"), catalogue)
    out["vitals"] = graded_vitals(out["vitals"], out["subjects"])
    out.update(protocol_tables(result, catalogue, profile, out["labs"]))
    out["findings"] = pl.DataFrame([f.to_dict() for f in result.findings],
                                   schema={k: (pl.Int64 if k == "row" else pl.String) for k in FINDING_FIELDS})
    return out


def graded_vitals(vitals: pl.DataFrame, subjects: pl.DataFrame) -> pl.DataFrame:
    """Vitals plus the baseline weight (Subjects), weight_change_pct and the CTCAE v5.0 Weight
    loss / Weight gain grades, and the Hypertension grade of each reading (docs/export.md)."""
    from .ctcae.grade import grade_bp, grade_weight

    if "weight" not in vitals.columns or "subject" not in vitals.columns:
        return vitals
    base = (subjects.select("subject", pl.col("weight").alias("baseline_weight")).unique("subject", keep="first")
            if {"subject", "weight"} <= set(subjects.columns)
            else pl.DataFrame(schema={"subject": pl.String, "baseline_weight": pl.Float64}))
    out = grade_weight(vitals.join(base, on="subject", how="left", maintain_order="left"))
    if {"sbp", "dbp"} <= set(out.columns):
        out = grade_bp(out, systolic="sbp", diastolic="dbp").rename(
            {"ctcae_grade": "ctcae_grade_hypertension"}).drop("ctcae_term_high", "ctcae_grade_high")
    return out


def protocol_tables(result, catalogue, profile=None, labs=None) -> dict:
    """The derived tables of the protocol rules (docs/protocol_rules.md): `dosing` (one row per
    Cycles row of a profile drug, with the subject's exposure), `markers` (one row per AFP /
    PIVKA-II result, with the subject's trend and response), `recist` (one row per assessment,
    with the best overall response)."""
    from datetime import date

    from .ctcae.terms import load_terms
    from .derive.exposure import dosing_table
    from .derive.markers import markers_table
    from .derive.recist import recist_table
    from .rules.base import Context

    if profile is None:
        from .profile.profile import ProfileError, load_profile

        try:
            profile = load_profile(result.profile)
        except ProfileError:
            profile = load_profile()
    try:
        today = date.fromisoformat(str(result.generated)[:10])
    except ValueError:
        today = date.today()
    ctx = Context(result.wb, profile, load_terms(), catalogue, today)
    if labs is not None:
        ctx._labs = labs
    # a study without [[markers]] or [recist] (profile.has) has no such table: an empty one, never
    # thresholds made up for it
    none = pl.DataFrame({"row": pl.Series([], dtype=pl.Int64)})
    return {"dosing": dosing_table(ctx), "markers": markers_table(ctx) if profile.has("markers") else none,
            "recist": recist_table(ctx) if profile.has("recist") else none}


def write_tables(tables: dict, out_dir: Path, progress=None) -> list:
    """Each table as CSV and Parquet; the Parquet files carry the monitor's mark (io.GENERATOR)
    in their metadata. `progress(text)` is called before each table."""
    from .io import GENERATOR, GENERATOR_KEY

    paths = []
    for name, df in tables.items():
        if progress is not None:
            progress(f"writing {name}")
        with atomic_path(out_dir / f"{name}.csv") as tmp:
            safe_text_columns(df).write_csv(tmp)
        with atomic_path(out_dir / f"{name}.parquet") as tmp:
            df.write_parquet(tmp, metadata={GENERATOR_KEY: GENERATOR})
        paths += [out_dir / f"{name}.csv", out_dir / f"{name}.parquet"]
    return paths

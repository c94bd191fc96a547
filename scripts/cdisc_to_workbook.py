"""Convert the CDISC SDTM pilot study (DM, LB, AE, EX CSVs) into a site workbook, as a US site
coordinator would fill it in.

    .venv/bin/python scripts/cdisc_to_workbook.py [SRC_DIR] [OUT.xlsx] [--test-names]

SRC_DIR defaults to ../shared/reference/cdisc_pilot (dm.csv, lb.csv, ae.csv, ex.csv: the
pharmaversesdtm export of CDISCPILOT01); OUT defaults to output/cdisc_pilot.xlsx. The output does
not depend on the monitor's profile or catalogue except for the CTCAE term choice (the NCI table
and the MedDRA preferred-term table shipped in monitor/ctcae).

How each sheet is filled (docs/real_data.md has the mapping and what it leaves out):
  Study          Protocol = STUDYID, Site = the sites pooled, Profile = cdisc_pilot
  Subjects       treated subjects only (ARM is not Screen Failure): Subject ID = USUBJID, Sex, Age,
                 Consent date = RFICDTC, else DMDTC (the screening visit; consent precedes it),
                 Off-treatment date = RFXENDTC, Arm = ARM. Weight is not in DM: left blank.
  Cycles         one row per EX record (a period of daily patches): Cycle = its order per subject,
                 Date = EXSTDTC, End date = EXENDTC, Drug = EXTRT (Xanomeline, Placebo), Dose = EXDOSE,
                 Unit = EXDOSU, Action Given.
  Labs           one row per LB record, results as reported: Test = LBTESTCD (LBTEST with
                 --test-names), Result = LBORRES (numbers as numbers, `<40` kept as text),
                 Unit = LBORRESU ("NO UNITS" left blank), LLN/ULN = LBORNRLO/LBORNRHI,
                 Specimen from LBCAT (URINALYSIS -> Urine, HEMATOLOGY -> Blood, else Serum),
                 Comment = VISIT.
  AdverseEvents  AE number = AESEQ; CTCAE term = AEDECOD when it is a CTCAE v5.0 term, else its
                 CTCAE term from monitor/ctcae/meddra_pt.toml, else '<AESOC> - Other, specify';
                 Verbatim term = AETERM; Grade from AESEV (MILD 1, MODERATE 2, SEVERE 3), 5 when
                 AESDTH = Y or AEOUT = FATAL; Serious = AESER; Ongoing = Y while AEENDTC is blank
                 and the event did not end in death (then End date = DTHDTC); Related to
                 Xanomeline / Placebo = Y for AEREL PROBABLE or POSSIBLE; Outcome from AEOUT.
                 Date aware / Date reported are not in SDTM: left blank.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))



def default_source() -> Path:
    """The pilot CSVs: $CDISC_PILOT_DIR, else ../shared/reference/cdisc_pilot beside the repository
    (or beside the folder of worktrees)."""
    import os

    env = os.environ.get("CDISC_PILOT_DIR")
    cands = [Path(env)] if env else []
    cands += [p / "shared" / "reference" / "cdisc_pilot" for p in (ROOT.parent, ROOT.parent.parent)]
    return next((c for c in cands if (c / "lb.csv").is_file()), cands[0])


DEFAULT_SRC = default_source()
PROFILE = "cdisc_pilot"

SEVERITY_GRADE = {"MILD": 1, "MODERATE": 2, "SEVERE": 3}   # CTCAE v5.0: 1 mild, 2 moderate, 3 severe
OUTCOME = {"RECOVERED/RESOLVED": "Recovered", "RECOVERING/RESOLVING": "Recovering",
           "NOT RECOVERED/NOT RESOLVED": "Not recovered", "FATAL": "Fatal", "UNKNOWN": "Unknown",
           "RECOVERED/RESOLVED WITH SEQUELAE": "Recovered with sequelae"}
RELATED = {"PROBABLE": "Y", "POSSIBLE": "Y", "DEFINITE": "Y", "RELATED": "Y",
           "REMOTE": "N", "NONE": "N", "UNLIKELY": "N", "NOT RELATED": "N"}
SPECIMEN = {"URINALYSIS": "Urine", "HEMATOLOGY": "Blood"}   # else Serum (chemistry, other)
DRUGS = ("Xanomeline", "Placebo")


def _read(src: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(src / f"{name}.csv", infer_schema_length=0)   # every column as text, as in SDTM


def _day(col: str) -> pl.Expr:
    """ISO date-time text -> a real date (the cell a coordinator types)."""
    return pl.col(col).str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def _number_or_text(col: str) -> pl.Expr:
    """A result as a coordinator types it: 3.8 as a number; `<40`, `N` as text."""
    return pl.col(col).str.strip_chars()


def subjects(dm: pl.DataFrame) -> pl.DataFrame:
    treated = dm.filter(pl.col("ARM").is_not_null() & (pl.col("ARM") != "Screen Failure"))
    return treated.sort("USUBJID").select(
        pl.col("USUBJID").alias("Subject ID"),
        pl.col("SEX").alias("Sex"),
        pl.col("AGE").cast(pl.Int64, strict=False).alias("Age"),
        pl.lit(None, dtype=pl.Float64).alias("Weight (kg)"),
        pl.coalesce(_day("RFICDTC"), _day("DMDTC")).alias("Consent date"),
        _day("RFXENDTC").alias("Off-treatment date"),
        pl.col("ARM").alias("Arm"),
    )


def cycles(ex: pl.DataFrame) -> pl.DataFrame:
    ex = ex.with_columns(_day("EXSTDTC").alias("_start"), pl.col("EXSEQ").cast(pl.Int64).alias("_seq"))
    return ex.sort("USUBJID", "_start", "_seq").select(
        pl.col("USUBJID").alias("Subject ID"),
        pl.col("_start").rank("ordinal").over("USUBJID").cast(pl.Int64).alias("Cycle"),
        pl.col("_start").alias("Date"),
        _day("EXENDTC").alias("End date"),
        pl.col("EXTRT").str.to_titlecase().alias("Drug"),
        pl.col("EXDOSE").cast(pl.Float64, strict=False).alias("Dose"),
        pl.col("EXDOSU").alias("Unit"),
        pl.lit("Given").alias("Action"),
    )


def labs(lb: pl.DataFrame, test_names: bool = False) -> pl.DataFrame:
    unit = pl.col("LBORRESU")
    return lb.with_columns(_day("LBDTC").alias("_d"), pl.col("LBSEQ").cast(pl.Int64).alias("_seq")).sort(
        "USUBJID", "_d", "_seq").select(
        pl.col("USUBJID").alias("Subject ID"),
        pl.col("_d").alias("Date"),
        pl.col("LBTEST" if test_names else "LBTESTCD").alias("Test"),
        _number_or_text("LBORRES").alias("Result"),
        pl.when(unit.str.to_uppercase() == "NO UNITS").then(None).otherwise(unit).alias("Unit"),
        pl.col("LBORNRLO").cast(pl.Float64, strict=False).alias("LLN"),
        pl.col("LBORNRHI").cast(pl.Float64, strict=False).alias("ULN"),
        pl.col("VISIT").alias("Comment"),
        pl.col("LBCAT").replace_strict(SPECIMEN, default="Serum").alias("Specimen"),
    )


def adverse_events(ae: pl.DataFrame, dm: pl.DataFrame, terms=None) -> pl.DataFrame:
    if terms is None:
        from monitor.ctcae.terms import load_terms

        terms = load_terms()
    pairs = ae.select("AEDECOD", "AESOC").unique()
    ctcae = {f"{pt}\x1f{soc}": terms.for_preferred_term(pt, soc) or f"{soc} - Other, specify"
             for pt, soc in pairs.iter_rows()}   # one lookup per distinct PT, not per row
    fatal = (pl.col("AESDTH") == "Y").fill_null(False) | (pl.col("AEOUT") == "FATAL").fill_null(False)
    severity = pl.col("AESEV").replace_strict(SEVERITY_GRADE, default=None, return_dtype=pl.Int64)
    death = dm.select("USUBJID", pl.col("DTHDTC"))
    ae = ae.join(death, on="USUBJID", how="left").with_columns(pl.col("AESEQ").cast(pl.Int64).alias("_seq"))
    end = pl.when(pl.col("AEENDTC").is_null() & fatal).then(pl.col("DTHDTC")).otherwise(pl.col("AEENDTC"))
    related = pl.col("AEREL").replace_strict(RELATED, default=None, return_dtype=pl.String)
    return ae.sort("USUBJID", "_seq").select(
        pl.col("USUBJID").alias("Subject ID"),
        pl.col("_seq").alias("AE number"),
        pl.concat_str([pl.col("AEDECOD"), pl.col("AESOC")], separator="\x1f")
        .replace_strict(ctcae, default=None, return_dtype=pl.String).alias("CTCAE term"),
        pl.col("AETERM").alias("Verbatim term"),
        pl.when(fatal).then(pl.lit(5, dtype=pl.Int64)).otherwise(severity).alias("Grade"),
        pl.col("AESTDTC").alias("Onset date"),       # ISO, partial as in SDTM ("2013-03", "2013")
        end.alias("End date"),
        pl.when(end.is_null()).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("Ongoing"),
        pl.col("AESER").alias("Serious"),
        pl.lit(None, dtype=pl.String).alias("Date aware"),
        pl.lit(None, dtype=pl.String).alias("Date reported"),
        *[related.alias(f"Related to {d}") for d in DRUGS],
        pl.col("AEOUT").replace_strict(OUTCOME, default=None, return_dtype=pl.String).alias("Outcome"),
    )


def study(dm: pl.DataFrame) -> list[list]:
    sites = sorted(s for s in dm.get_column("SITEID").unique().to_list() if s)
    return [["Field", "Value"], ["Protocol", dm.get_column("STUDYID")[0]],
            ["Site", f"pooled: {', '.join(sites)}"], ["Profile", PROFILE]]


def _write_sheet(ws, frame: pl.DataFrame) -> None:
    ws.append(frame.columns)
    for row in frame.iter_rows():
        ws.append([_cell(v) for v in row])


def _cell(v):
    if isinstance(v, str):
        try:   # a result typed as a number is a number cell; `<40`, `1.2.3`, `N` stay text
            f = float(v)
            return int(f) if f.is_integer() and "." not in v else f
        except ValueError:
            return v
    return v


def convert(src: Path | str = DEFAULT_SRC, out: Path | str = "output/cdisc_pilot.xlsx",
            test_names: bool = False) -> Path:
    """Write the site workbook of the CDISC pilot CSVs in `src` to `out`; return its path."""
    from openpyxl import Workbook

    src, out = Path(src), Path(out)
    dm, lb, ae, ex = (_read(src, n) for n in ("dm", "lb", "ae", "ex"))
    sheets = {"Subjects": subjects(dm), "Cycles": cycles(ex), "Labs": labs(lb, test_names),
              "AdverseEvents": adverse_events(ae, dm)}
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Study")
    for r in study(dm):
        ws.append(r)
    for name, frame in sheets.items():
        _write_sheet(wb.create_sheet(name), frame)
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", nargs="?", default=str(DEFAULT_SRC), help="folder with dm.csv, lb.csv, ae.csv, ex.csv")
    ap.add_argument("out", nargs="?", default="output/cdisc_pilot.xlsx", help="workbook to write")
    ap.add_argument("--test-names", action="store_true", help="write LBTEST names instead of LBTESTCD codes")
    args = ap.parse_args(argv)
    for n in ("dm", "lb", "ae", "ex"):
        if not (Path(args.src) / f"{n}.csv").is_file():
            print(f"cdisc_to_workbook: {args.src}: {n}.csv not found", file=sys.stderr)
            return 2
    print(convert(args.src, args.out, args.test_names))
    return 0


if __name__ == "__main__":
    sys.exit(main())

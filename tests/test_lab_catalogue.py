"""The lab catalogue: CDISC SDTM LB codes and names (with specimen), shared codes resolved by
specimen, unit and result, US count units, and LAB001 grouped once per unknown test."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from builders import copy_row, d, fresh, set_cell, add_column
from monitor.labs.catalogue import load_catalogue, norm_unit, parse_catalogue, with_lab_codes

PILOT = next((p / "shared" / "reference" / "cdisc_pilot" for p in Path(__file__).resolve().parents
              if (p / "shared" / "reference" / "cdisc_pilot" / "lb.csv").is_file()), Path("missing"))
CAT = load_catalogue()


# ------------------------------------------------------------------ CDISC pilot coverage

@pytest.mark.skipif(not (PILOT / "lb.csv").is_file(), reason="CDISC pilot reference data not present")
def test_every_pilot_code_and_name_is_known_with_its_unit():
    """Every LBTESTCD and LBTEST of the CDISC pilot (CDISCPILOT01) resolves to a catalogue test
    that accepts the reported unit (LBORRESU; 'NO UNITS' = blank) and the standard unit (LBSTRESU)."""
    lb = pl.read_csv(PILOT / "lb.csv", infer_schema_length=0)
    combos = lb.select("LBTESTCD", "LBTEST", "LBCAT", "LBORRESU", "LBSTRESU").unique()
    problems = []
    for code, name, cat, unit, std in combos.iter_rows():
        spec = "Urine" if cat == "URINALYSIS" else None
        unit = "" if unit == "NO UNITS" else unit
        by_code, by_name = CAT.code_for(code, spec, unit), CAT.code_for(name, spec, unit)
        if by_code is None or by_code != by_name:
            problems.append(f"{code}/{name}: {by_code} vs {by_name}")
            continue
        t = CAT.tests[by_code]
        if t.cdisc != code:
            problems.append(f"{code}: resolves to {by_code} (CDISC {t.cdisc})")
        for u in (unit, std or ""):
            if norm_unit(u) not in t.units:
                problems.append(f"{code}: unit {u!r} not accepted ({', '.join(t.unit_labels.values())})")
    assert not problems, "\n".join(problems)


def test_routine_ct_codes_beyond_the_pilot():
    """Routine chemistry, haematology, coagulation and urinalysis codes of the CDISC LB CT."""
    want = {"BUN": "BLOOD", "CL": "BLOOD", "PHOS": "BLOOD", "BICARB": "BLOOD", "PROT": "BLOOD",
            "RBC": "BLOOD", "HCT": "BLOOD", "MCV": "BLOOD", "MCH": "BLOOD", "MCHC": "BLOOD",
            "BASO": "BLOOD", "EOS": "BLOOD", "MONO": "BLOOD", "LYM": "BLOOD", "NEUT": "BLOOD",
            "VITB12": "BLOOD", "FOLATE": "BLOOD", "PT": "BLOOD", "APTT": "BLOOD", "INR": "BLOOD",
            "FIBRINO": "BLOOD", "DDIMER": "BLOOD", "COLOR": "URINE", "SPGRAV": "URINE",
            "KETONES": "URINE", "UROBIL": "URINE", "OCCBLD": "URINE", "NITRITE": "URINE",
            "LEUKASE": "URINE", "UPH": "URINE", "UGLUC": "URINE", "UBILI": "URINE", "UPROT": "URINE"}
    assert {c: CAT.tests[c].specimen for c in want} == want
    assert {CAT.tests[c].cdisc for c in ("UPH", "UGLUC", "UBILI", "UPROT", "URBC", "UWBC")} == \
        {"PH", "GLUC", "BILI", "PROT", "RBC", "WBC"}
    assert all(CAT.tests[c].source for c in ("BUN", "COLOR", "UPH"))


# ------------------------------------------------------------------ shared codes: specimen decides

RESOLVE = [
    # (text, specimen, unit, result) -> test; source: CDISC LBTESTCD shared across LBSPEC
    ("PH", None, None, None, "UPH"),            # plain pH: routine urinalysis (tests.toml [defaults])
    ("pH", "URINE", "", "6.0", "UPH"),
    ("PH", "Serum", None, None, "PH"),
    ("PH", "ARTERIAL BLOOD", None, None, "PH"),
    ("Blood pH", None, None, None, "PH"),
    ("Arterial pH", "Urine", None, None, "PH"),  # a name of one test only: the specimen cannot move it
    ("Urine pH", None, None, None, "UPH"),
    ("pH, urine", None, None, None, "UPH"),
    ("PROT", None, "g/dL", None, "PROT"),      # serum total protein in g/dL, never the dipstick
    ("Protein", None, "g/L", None, "PROT"),
    ("PROT", None, None, "1+", "UPROT"),       # dipstick result
    ("PROT", None, None, "Trace", "UPROT"),
    ("PROT", "Urine", None, None, "UPROT"),
    ("PROT", None, "mg/dL", None, "PROT"),     # a unit neither accepts: the default (LAB002 follows)
    ("PROT", None, "", None, "PROT"),          # blank unit, numeric: the default (LAB003 follows)
    ("Urine protein", None, None, None, "UPROT"),
    ("GLUC", None, "mg/dL", None, "GLUC"),     # both accept mg/dL: the default
    ("GLUC", "URINE", "mg/dL", None, "UGLUC"),
    ("Glucose", None, None, "Neg", "UGLUC"),
    ("Urine glucose", None, None, None, "UGLUC"),
    ("BILI", None, "mg/dL", None, "BILI"),
    ("Bilirubin", None, None, "Neg", "UBILI"),
    ("RBC", None, "MILL/uL", None, "RBC"),
    ("RBC", None, "/HPF", None, "URBC"),
    ("Leukocytes", None, "THOU/uL", None, "WBC"),
    ("WBC", "urine", None, None, "UWBC"),
    ("Platelet", None, None, None, "PLAT"),    # CDISC pilot LBTEST
    ("Ery. Mean Corpuscular Volume", None, None, None, "MCV"),
    ("T4FR", None, None, None, "FT4"),
]


@pytest.mark.parametrize("text,spec,unit,result,want", RESOLVE, ids=[f"{r[0]}-{r[1]}-{r[2]}-{r[3]}" for r in RESOLVE])
def test_code_for_resolves_shared_names(text, spec, unit, result, want):
    assert CAT.code_for(text, spec, unit, result) == want


def test_with_lab_codes_resolves_each_row_by_its_own_specimen_unit_and_result():
    frame = pl.DataFrame({
        "test": ["PH", "PH", "PROT", "PROT", "PROT", "GLUC", "ALT", "Hematocrite"],
        "specimen": ["Urine", "Serum", None, None, "URINE", "Urine", None, None],
        "unit": [None, None, "g/dL", None, None, "mg/dL", "U/L", "%"],
        "result__raw": ["6.0", "7.31", "6.5", "2+", "Neg", "100", "32", "40"],
        "result__err": [None, None, None, "not a number", "not a number", None, None, None],
    })
    got = with_lab_codes(frame, CAT).get_column("test_code").to_list()
    assert got == ["UPH", "PH", "PROT", "UPROT", "UPROT", "UGLUC", "ALT", None]


def test_without_a_specimen_column_the_name_and_unit_decide():
    frame = pl.DataFrame({"test": ["PH", "Blood pH", "PROT"], "unit": [None, None, "g/dL"]})
    assert with_lab_codes(frame, CAT).get_column("test_code").to_list() == ["UPH", "PH", "PROT"]


def test_with_lab_codes_per_distinct_combination_equals_mapping_every_row():
    from polars.testing import assert_frame_equal

    from monitor.labs.catalogue import _with_test_codes, unit_factor_expr

    frame = pl.DataFrame({
        "_row": list(range(2, 14)),
        "test": ["PH", "PH", "PROT", "PROT", "PROT", "GLUC", "ALT", "alt", None, "ALT", "Hematocrite", "PROT"],
        "specimen": ["Urine", "Serum", None, None, "URINE", "Urine", None, None, None, None, None, None],
        "unit": [None, None, "g/dL", None, None, "mg/dL", "U/L", "u/l", "U/L", "mmol/L", "%", None],
        "result__raw": ["6.0", "7.31", "6.5", "2+", "Neg", "100", "32", "40", "5", "x", "40", "Trace"],
        "result__err": [None, None, None, "not a number", "not a number", None, None, None, None,
                        "not a number", None, "not a number"],
    })
    rows = _with_test_codes(frame, CAT)
    expected = rows.with_columns(unit_factor_expr(rows, CAT).alias("unit_factor")).drop("unit_norm")
    assert_frame_equal(with_lab_codes(frame, CAT), expected)
    assert_frame_equal(with_lab_codes(frame.clear(), CAT), expected.clear())   # the no-row path: same columns


def test_catalogue_refuses_a_name_shared_within_one_specimen():
    text = """
[tests.A]
name = "Thing"
si_unit = ""
units = { "" = 1.0 }
[tests.B]
name = "Thing"
si_unit = ""
units = { "" = 1.0 }
"""
    with pytest.raises(ValueError, match="shared only by tests of one CDISC code and different specimens"):
        parse_catalogue(text)


def test_catalogue_needs_a_default_for_a_shared_code():
    text = """
[tests.X]
name = "Thing"
si_unit = ""
units = { "" = 1.0 }
[tests.UX]
name = "Thing, urine"
code = "X"
specimen = "URINE"
aliases = ["Thing"]
si_unit = ""
units = { "" = 1.0 }
"""
    with pytest.raises(ValueError, match=r"\[defaults\] must name one of them"):
        parse_catalogue(text)
    assert parse_catalogue(text + '[defaults]\nX = "UX"\n').code_for("Thing") == "UX"


# ------------------------------------------------------------------ unit factors (AMA SI table)

FACTORS = [
    # (test, unit, value, SI value) -- AMA Manual of Style SI conversion factors
    ("BUN", "mg/dL", 14, 14 * 0.357),        # urea nitrogen mg/dL -> urea mmol/L
    ("PHOS", "mg/dL", 3.1, 3.1 * 0.3229),
    ("VITB12", "pg/mL", 400, 400 * 0.7378),
    ("HCT", "%", 42, 0.42),
    ("RBC", "MILL/uL", 4.5, 4.5),            # 10^6/uL = 10^12/L (pilot LBSTRESU TI/L)
    ("MCH", "fmol(Fe)", 1.9, 1.9 * 16.11),
    ("PROT", "g/dL", 6.5, 65.0),
    ("LYM", "THOU/uL", 0.47, 0.47),          # 10^3/uL = 10^9/L (pilot LBSTRESU GI/L)
    ("LYM", "GI/L", 0.47, 0.47),
    ("PLAT", "THOU/uL", 130, 130),
]


@pytest.mark.parametrize("code,unit,value,si", FACTORS, ids=[f"{f[0]}-{f[1]}" for f in FACTORS])
def test_unit_factor(code, unit, value, si):
    assert value * CAT.tests[code].units[norm_unit(unit)] == pytest.approx(si)


def test_every_si_unit_converts_by_one():
    bad = [c for c, t in CAT.tests.items() if norm_unit(t.si_unit) in t.units and t.units[norm_unit(t.si_unit)] != 1.0]
    assert bad == []


# ------------------------------------------------------------------ grading through the workbook

def _labs_with_specimen(rows):
    """The valid study with a Specimen column and extra Labs rows (Test, Result, Unit, LLN, ULN, Specimen)."""
    s = fresh()
    add_column(s, "Labs", "Specimen")
    for test, result, unit, lln, uln, spec in rows:
        copy_row(s, "Labs", 0, Test=test, Result=result, Unit=unit, LLN=lln, ULN=uln, Specimen=spec,
                 Date=d(2025, 3, 7))
    return s


def _graded(ctx) -> pl.DataFrame:
    """The whole graded labs table (the export's; a check's ctx.labs leaves out the text columns
    no rule reads, such as the CTCAE term)."""
    from monitor.derive.labs import graded_labs

    return graded_labs(ctx.sheet("Labs"), ctx.sheet("Cycles"), ctx.catalogue)


def test_urine_ph_is_never_graded_and_blood_ph_is(ctx_of):
    """Urine pH 5.0 (LLN 5, ULN 8; CDISC pilot) has no CTCAE grade; blood pH 7.2 is Acidosis
    (CTCAE v5.0: grade 3 '<7.3')."""
    s = _labs_with_specimen([("PH", 5.0, None, 5, 8, "Urine"), ("pH", 4.5, None, None, None, None),
                             ("PH", 7.2, None, 7.35, 7.45, "Arterial blood")])
    labs = _graded(ctx_of(s)).filter(pl.col("row") >= 17).sort("row")
    assert labs.get_column("test").to_list() == ["UPH", "UPH", "PH"]
    assert labs.get_column("ctcae_grade").to_list()[:2] == [None, None]
    assert labs.get_column("ctcae_term_low").to_list()[2] == "Acidosis"
    assert labs.get_column("ctcae_grade").to_list()[2] == 3


LYMPHOPENIA = [
    # CTCAE v5.0 Lymphocyte count decreased: G2 <800 - 500/mm3, G3 <500 - 200/mm3 (x10^3/uL = x10^9/L)
    (0.51, 2), (0.50, 2), (0.49, 3), (0.47, 3), (0.20, 3), (0.19, 4),
]


@pytest.mark.parametrize("value,grade", LYMPHOPENIA)
@pytest.mark.parametrize("unit", ["THOU/uL", "GI/L"])
def test_us_count_units_are_graded(ctx_of, value, grade, unit):
    s = _labs_with_specimen([("LYM", value, unit, 0.8, 3.0, "Blood")])
    row = _graded(ctx_of(s)).filter(pl.col("row") == 17)
    assert row.get_column("ctcae_term_low").item() == "Lymphocyte count decreased"
    assert row.get_column("ctcae_grade").item() == grade


def test_serum_protein_is_not_the_urine_dipstick(ctx_of):
    s = _labs_with_specimen([("PROT", 6.5, "g/dL", 6, 8, None), ("PROT", "2+", None, None, None, None)])
    labs = _graded(ctx_of(s)).filter(pl.col("row") >= 17).sort("row")
    assert labs.get_column("test").to_list() == ["PROT", "UPROT"]
    assert labs.get_column("value_si").to_list()[0] == pytest.approx(65.0)
    assert labs.get_column("ctcae_term_high").to_list() == [None, "Proteinuria"]


# ------------------------------------------------------------------ LAB001: once per unknown test

def test_unknown_test_is_one_info_finding_with_count_cells_and_did_you_mean(run):
    s = fresh()
    for day in range(8, 20):   # 12 more rows of the same unknown test
        copy_row(s, "Labs", 0, Test="Hematocrite", Date=d(2025, 3, day))
    set_cell(s, "Labs", 0, "Test", "HEMATOCRITE")
    copy_row(s, "Labs", 0, Test="HBV DNA", Date=d(2025, 3, 30))
    result = run(s)
    lab001 = [f for f in result.findings if f.rule == "LAB001"]
    assert [(f.where, f.severity) for f in lab001] == [("Labs!C2", "info"), ("Labs!C29", "info")]
    first, other = lab001
    assert "13 rows (Labs!C2, C17, C18 and 10 more)" in first.message
    assert first.suggestion == "Did you mean HCT (Hematocrit)?"
    assert "1 row (Labs!C29)" in other.message and "Did you mean" not in other.suggestion
    labs = result.wb.get("Labs")
    assert labs.frame.height == 28   # kept: nothing dropped from the sheet


def test_unknown_test_is_kept_in_the_export(run):
    from monitor.export import build_tables

    s = fresh()
    set_cell(s, "Labs", 0, "Test", "HBV DNA")
    result = run(s)
    labs = build_tables(result, CAT)["labs"]
    row = labs.filter(pl.col("row") == 2)
    assert row.get_column("test_as_entered").item() == "HBV DNA"
    assert row.get_column("test").item() is None and row.get_column("value").item() == 32


def test_close_matches_return_exactly_what_difflib_get_close_matches_returns():
    """suggest() prunes with letter counts in polars; the names and their order stay difflib's."""
    import difflib

    from monitor.labs.catalogue import close_matches, letter_counts

    names = [*CAT.lookup, *CAT.shared]
    counts = letter_counts(names)
    words = ["hematocrite", "potasium", "alanineaminotransferse", "sgpt2", "a", "xyzbiomarker1", "é+ü",
             *names[:40], *(w[:-1] for w in names[40:80]), *(w[::-1] for w in names[80:120])]
    for cutoff in (0.75, 0.6):
        for w in words:
            assert close_matches(w, counts, 6, cutoff) == difflib.get_close_matches(w, names, n=6, cutoff=cutoff), w
    assert CAT.suggest("Hematocrite")[0].startswith("HCT")


def test_kept_lookup_series_and_result_sets_are_the_catalogue_itself():
    """The Series the rules read instead of the catalogue's dicts (built once per catalogue) hold
    exactly its names and its categorical results."""
    cat = load_catalogue()
    old, new = cat.lookup_series()
    assert dict(zip(old.to_list(), new.to_list())) == cat.lookup
    assert cat.lookup_series() is cat.lookup_series()
    units, lo, hi = cat.per_test_series()
    assert dict(zip(*(x.to_list() for x in units))) == {c: t.si_unit for c, t in cat.tests.items()}
    assert dict(zip(*(x.to_list() for x in lo))) == {c: t.plausible[0] for c, t in cat.tests.items()
                                                     if t.plausible and t.plausible[0] is not None}
    assert dict(zip(*(x.to_list() for x in hi))) == {c: t.plausible[1] for c, t in cat.tests.items()
                                                     if t.plausible and t.plausible[1] is not None}
    sets = cat.result_sets()
    assert {c: tuple(s.explode().to_list()) for c, s in sets.items()} == {
        c: tuple(t.results) for c, t in cat.tests.items() if t.results}

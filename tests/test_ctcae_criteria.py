"""criteria.toml: the shipped file is traceable to the NCI text, and the loader refuses bad data
with a message that names the record."""

from __future__ import annotations

import csv
import json
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from monitor.ctcae.criteria import CriteriaError, load_criteria, parse_criteria
from monitor.labs.catalogue import load_catalogue

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ctcae_grading.md"


def _raw() -> dict:
    return tomllib.loads(resources.files("monitor.ctcae").joinpath("criteria.toml").read_text("utf-8"))


def _nci() -> dict:
    """terms.csv read directly (not through monitor.ctcae.terms): term -> row."""
    text = resources.files("monitor.ctcae").joinpath("terms.csv").read_text("utf-8")
    return {r["term"]: r for r in csv.DictReader(text.splitlines(keepends=True))}


# ------------------------------------------------------------------------------ shipped file

def test_shipped_criteria_load():
    c = load_criteria()
    assert c.ctcae_version == "5.0" and c.version
    assert len(c) == 56 and len(c.terms()) == 52


def test_every_text_is_verbatim_from_terms_csv():
    nci = _nci()
    for i, rec in enumerate(_raw()["criteria"]):
        row = nci[rec["term"]]
        for g in range(1, 6):
            key = f"grade_{g}"
            if row[key]:
                assert rec["text"].get(key) == row[key], f"criteria[{i}] {rec['term']} {key}"
            else:
                assert key not in rec["text"], f"criteria[{i}] {rec['term']}: CTCAE has no {key}"


def test_every_threshold_grade_has_ctcae_text():
    for r in load_criteria():
        for t in r.thresholds:
            assert r.text[t.grade], (r.label, t.grade)


# what the issue asks to cover: (test, direction) -> CTCAE v5.0 term
REQUIRED = {
    ("HGB", "low"): "Anemia", ("HGB", "high"): "Hemoglobin increased",
    ("WBC", "low"): "White blood cell decreased", ("WBC", "high"): "Leukocytosis",
    ("LYM", "low"): "Lymphocyte count decreased", ("LYM", "high"): "Lymphocyte count increased",
    ("NEUT", "low"): "Neutrophil count decreased", ("PLAT", "low"): "Platelet count decreased",
    ("CD4", "low"): "CD4 lymphocytes decreased",
    ("ALT", "high"): "Alanine aminotransferase increased", ("AST", "high"): "Aspartate aminotransferase increased",
    ("ALP", "high"): "Alkaline phosphatase increased", ("GGT", "high"): "GGT increased",
    ("BILI", "high"): "Blood bilirubin increased", ("CREAT", "high"): "Creatinine increased",
    ("AMYLASE", "high"): "Serum amylase increased", ("LIPASE", "high"): "Lipase increased",
    ("CK", "high"): "CPK increased", ("APTT", "high"): "Activated partial thromboplastin time prolonged",
    ("INR", "high"): "INR increased", ("FIBRINO", "low"): "Fibrinogen decreased",
    ("HAPT", "low"): "Haptoglobin decreased", ("ALB", "low"): "Hypoalbuminemia",
    ("CHOL", "high"): "Cholesterol high", ("TRIG", "high"): "Hypertriglyceridemia",
    ("URATE", "high"): "Hyperuricemia", ("GLUC", "high"): "Hyperglycemia", ("GLUC", "low"): "Hypoglycemia",
    ("K", "low"): "Hypokalemia", ("K", "high"): "Hyperkalemia",
    ("SODIUM", "low"): "Hyponatremia", ("SODIUM", "high"): "Hypernatremia",
    ("CA", "low"): "Hypocalcemia", ("CA", "high"): "Hypercalcemia",
    ("CAION", "low"): "Hypocalcemia", ("CAION", "high"): "Hypercalcemia",
    ("MG", "low"): "Hypomagnesemia", ("MG", "high"): "Hypermagnesemia",
    ("PH", "low"): "Acidosis", ("PH", "high"): "Alkalosis",
    ("LDH", "high"): "Blood lactate dehydrogenase increased",
    ("UPROT", "high"): "Proteinuria", ("UPROT24", "high"): "Proteinuria",
    ("SYSBP", "high"): "Hypertension", ("DIABP", "high"): "Hypertension",
    # issue 10: every other v5.0 term whose grades are values the workbook holds
    ("EOS", "high"): "Eosinophilia", ("BICARB", "low"): "Blood bicarbonate decreased",
    ("PHOS", "low"): "Hypophosphatemia", ("PHOS", "high"): "Hyperphosphatemia",
    ("TROPONI", "high"): "Cardiac troponin I increased", ("TROPONT", "high"): "Cardiac troponin T increased",
    ("METHGB", "high"): "Methemoglobinemia", ("GFR", "low"): "Chronic kidney disease",
    ("TSH", "high"): "Thyroid stimulating hormone increased",
    ("WEIGHT", "low"): "Weight loss", ("WEIGHT", "high"): "Weight gain",
}

# Units CTCAE v5.0 prints in each term's text (read from terms.csv by hand), SI first; terms
# whose thresholds are all relative (x ULN, x baseline, %) print none.
PRINTED = {
    ("HGB", "low"): ("g/L", "g/dL", "mmol/L"), ("HGB", "high"): ("g/dL",),
    ("WBC", "low"): ("10e9/L", "/mm3"), ("WBC", "high"): ("/mm3",),
    ("LYM", "low"): ("10e9/L", "/mm3"), ("LYM", "high"): ("/mm3",),
    ("NEUT", "low"): ("10e9/L", "/mm3"), ("PLAT", "low"): ("10e9/L", "/mm3"), ("CD4", "low"): ("10e9/L", "/mm3"),
    ("FIBRINO", "low"): ("mg/dL",), ("ALB", "low"): ("g/L", "g/dL"),
    ("CHOL", "high"): ("mmol/L", "mg/dL"), ("TRIG", "high"): ("mmol/L", "mg/dL"),
    ("GLUC", "low"): ("mmol/L", "mg/dL"), ("K", "low"): ("mmol/L",), ("K", "high"): ("mmol/L",),
    ("SODIUM", "low"): ("mmol/L",), ("SODIUM", "high"): ("mmol/L",),
    ("CA", "low"): ("mmol/L", "mg/dL"), ("CA", "high"): ("mmol/L", "mg/dL"),
    ("CAION", "low"): ("mmol/L",), ("CAION", "high"): ("mmol/L",),
    ("MG", "low"): ("mmol/L", "mg/dL"), ("MG", "high"): ("mmol/L", "mg/dL"),
    ("PH", "low"): ("",), ("PH", "high"): ("",), ("INR", "high"): ("",), ("UPROT", "high"): ("dipstick",),
    ("UPROT24", "high"): ("g/24h",), ("SYSBP", "high"): ("mmHg",), ("DIABP", "high"): ("mmHg",),
    ("GFR", "low"): ("mL/min/1.73m2",),
    ("TROPONI", "high"): ("ng/L",), ("TROPONT", "high"): ("ng/L",),   # the manufacturer's MI level
}


def test_required_terms_are_covered():
    c = load_criteria()
    got = {(r.test, r.direction): r.term for r in c}
    assert got == REQUIRED


def test_every_printed_unit_is_kept():
    got = {(r.test, r.direction): r.units for r in load_criteria() if r.units}
    assert got == PRINTED


def test_printed_units_convert_and_si_comes_first():
    cat = load_catalogue()
    c = load_criteria()
    for r in c:
        if r.test in c.vital_signs:
            assert r.units in ((), (c.vital_signs[r.test]["unit"],)), r.label
        elif r.scale is None and r.units:
            for u in r.units:
                assert cat.to_si(r.test, u) is not None, (r.label, u)
            si = [u for u in r.units if cat.convert(r.test, u, cat.tests[r.test].si_unit) == 1.0]
            assert not si or si[0] == r.units[0], f"{r.label}: the SI unit {si[0]!r} must come first"


def test_printed_figures_appear_in_the_ctcae_text():
    """Each absolute figure is written in the term's text (75.0 as '75.0' or '75,000' ...)."""
    def forms(x: float) -> set:
        return {f"{x:g}", f"{x:.1f}", f"{x:.2f}", f"{x:,.0f}", f"{x:,.1f}"}
    for r in load_criteria():
        if r.scale is not None or r.test in ("TROPONI", "TROPONT"):   # MI level: the manufacturer's
            continue
        text = " ".join(r.text.values())
        for t in r.thresholds:
            for u, x in t.values + t.offsets:
                assert any(f in text for f in forms(x)), f"{r.label}: {x:g} {u} not in the CTCAE text"


def test_terms_with_clinical_grades_have_a_note():
    for r in load_criteria():
        if set(r.text) - set(r.grades):
            assert r.note and len(r.note) > 40, r.label


def test_needs_follow_the_thresholds():
    c = load_criteria()
    assert c.needs("ALT") == {"uln"}
    assert c.needs("HGB") == {"lln", "uln"}
    assert c.needs("INR") == frozenset()          # absolute INR thresholds in v5.0
    assert c.needs("TRIG") == frozenset()         # grade 1 starts at 1.71 mmol/L, not the ULN
    assert c.needs("WBC") == {"lln"}              # Leukocytosis is absolute
    assert c.needs("UPROT24") == {"uln"}


def test_dipstick_scale_covers_every_catalogue_result():
    r = load_criteria().for_test("UPROT", "high")
    assert set(load_catalogue().tests["UPROT"].results) <= set(r.scale)


def test_docs_name_every_term_and_test():
    text = DOC.read_text("utf-8")
    for r in load_criteria():
        assert r.term in text, r.term
        assert f"`{r.test}`" in text, r.test


# ------------------------------------------------------------------------------ loader refusals

NCI = _nci()


def _text_table(term: str) -> str:
    row = NCI[term]
    return "\n".join(f"grade_{g} = {json.dumps(row[f'grade_{g}'], ensure_ascii=False)}"
                     for g in range(1, 6) if row[f"grade_{g}"])


GOOD = f'''
version = "test"
ctcae_version = "5.0"

[vital_signs.SYSBP]
name = "Systolic Blood Pressure"
unit = "mmHg"

[[criteria]]
term = "Alanine aminotransferase increased"
test = "ALT"
direction = "high"
thresholds = [
  {{ grade = 1, basis = "uln", op = ">", factor = 1.0 }},
  {{ grade = 2, basis = "uln", op = ">", factor = 3.0 }},
  {{ grade = 3, basis = "uln", op = ">", factor = 5.0 }},
  {{ grade = 4, basis = "uln", op = ">", factor = 20.0 }},
]
[criteria.text]
{_text_table("Alanine aminotransferase increased")}

[[criteria]]
term = "Platelet count decreased"
test = "PLAT"
direction = "low"
units = ["10e9/L", "/mm3"]
thresholds = [
  {{ grade = 1, basis = "lln", op = "<" }},
  {{ grade = 2, basis = "abs", op = "<", value = {{ "10e9/L" = 75.0, "/mm3" = 75000.0 }} }},
  {{ grade = 3, basis = "abs", op = "<", value = {{ "10e9/L" = 50.0, "/mm3" = 50000.0 }} }},
  {{ grade = 4, basis = "abs", op = "<", value = {{ "10e9/L" = 25.0, "/mm3" = 25000.0 }} }},
]
[criteria.text]
{_text_table("Platelet count decreased")}
'''

ALT = "criteria[0] (ALT / 'Alanine aminotransferase increased' / high)"
PLAT = "criteria[1] (PLAT / 'Platelet count decreased' / low)"


def test_minimal_file_is_valid():
    c = parse_criteria(GOOD)
    assert [r.term for r in c] == ["Alanine aminotransferase increased", "Platelet count decreased"]


REFUSALS = [
    # id, old text, new text, expected message fragments
    ("unknown-op", 'op = ">", factor = 3.0', 'op = "=>", factor = 3.0',
     [ALT, "thresholds[1]", "unknown op '=>'", ">, >=, <, <="]),
    ("op-word", 'op = ">", factor = 3.0', 'op = "gt", factor = 3.0',
     [ALT, "thresholds[1]", "unknown op 'gt'", ">, >=, <, <="]),
    ("op-direction", 'op = ">", factor = 5.0', 'op = "<", factor = 5.0',
     [ALT, "thresholds[2]", "does not fit direction high"]),
    ("basis", 'basis = "uln", op = ">", factor = 20.0', 'basis = "upper", op = ">", factor = 20.0',
     [ALT, "thresholds[3]", "unknown basis 'upper'", "uln, lln, abs, baseline"]),
    ("applies", 'factor = 20.0 }', 'factor = 20.0, applies = "sometimes" }',
     [ALT, "thresholds[3]", "unknown applies 'sometimes'"]),
    ("grade-0", '{ grade = 1, basis = "uln"', '{ grade = 0, basis = "uln"',
     [ALT, "thresholds[0]", "grade 0 must be an integer 1-5"]),
    ("grade-6", '{ grade = 4, basis = "uln"', '{ grade = 6, basis = "uln"',
     [ALT, "thresholds[3]", "grade 6 must be an integer 1-5"]),
    ("grade-not-defined", '{ grade = 4, basis = "uln"', '{ grade = 5, basis = "uln"',
     [ALT, "thresholds[3]", "defines no grade 5 for Alanine aminotransferase increased"]),
    ("grade-order", '{ grade = 2, basis = "uln", op = ">", factor = 3.0 }',
     '{ grade = 2, basis = "uln", op = ">", factor = 3.0 }, { grade = 1, basis = "uln", op = ">", factor = 1.1 }',
     [ALT, "ordered by grade"]),
    ("not-monotone", 'factor = 5.0 }', 'factor = 2.0 }',
     [ALT, "grade 3 threshold (> 2 x ULN) is not beyond grade 2's (> 3 x ULN)"]),
    ("term-typo", 'term = "Alanine aminotransferase increased"', 'term = "Alanine aminotransferase raised"',
     ["criteria[0]", "not a CTCAE v5.0 term", "closest", "'Alanine aminotransferase increased'"]),
    ("term-case", 'term = "Platelet count decreased"', 'term = "platelet count decreased"',
     ["criteria[1]", "exact spelling", "did you mean 'Platelet count decreased'"]),
    ("test-unknown", 'test = "ALT"', 'test = "SGPT"',
     ["criteria[0] (SGPT / 'Alanine aminotransferase increased' / high)", "test 'SGPT' is not a lab catalogue code"]),
    ("unit", 'units = ["10e9/L", "/mm3"]', 'units = ["10e9/L", "mg/dL"]',
     [PLAT, "printed unit 'mg/dL' does not convert to PLAT's SI unit '10^9/L'"]),
    ("units-and-unit", 'units = ["10e9/L", "/mm3"]', 'units = ["10e9/L", "/mm3"]\nunit = "10^9/L"',
     [PLAT, "not both"]),
    ("abs-unit-missing", '{ "10e9/L" = 75.0, "/mm3" = 75000.0 }', '{ "10e9/L" = 75.0 }',
     [PLAT, "thresholds[1]", "one figure per printed unit ['10e9/L', '/mm3']"]),
    ("abs-scalar", '{ "10e9/L" = 75.0, "/mm3" = 75000.0 }', '75.0',
     [PLAT, "thresholds[1]", "needs a table of printed unit -> number"]),
    ("printed-disagree", '"/mm3" = 50000.0', '"/mm3" = 5000.0',
     [PLAT, "grade 3 value: 5000 /mm3 is 5 in SI but 50 10e9/L is 50", "must agree"]),
    ("abs-no-value", 'op = "<", value = { "10e9/L" = 50.0, "/mm3" = 50000.0 }', 'op = "<"',
     [PLAT, "thresholds[2]", "basis abs needs `value`"]),
    ("abs-factor", 'value = { "10e9/L" = 25.0, "/mm3" = 25000.0 }', 'factor = 25.0',
     [PLAT, "thresholds[3]", "basis abs takes `value`, not factor/offset"]),
    ("also-nested", 'factor = 20.0 }', 'factor = 20.0, also = { basis = "uln", op = ">", also = { basis = "uln", op = ">" } } }',
     [ALT, "thresholds[3].also", "`also` cannot nest"]),
    ("factor-zero", 'factor = 20.0', 'factor = 0.0', [ALT, "thresholds[3]", "factor must be > 0"]),
    ("optional-not-baseline", 'factor = 20.0 }', 'factor = 20.0, optional = true }',
     [ALT, "optional is only for basis = baseline"]),
    ("unknown-threshold-key", 'factor = 20.0 }', 'factor = 20.0, when = "x" }', [ALT, "unknown key(s) ['when']"]),
    ("unknown-record-key", 'direction = "low"', 'direction = "low"\ncomment = "x"', [PLAT, "unknown key(s) ['comment']"]),
    ("direction", 'direction = "low"', 'direction = "down"', ["criteria[1]", "direction 'down' must be one of low, high"]),
    ("text-missing", 'grade_3 = "<50,000 - 25,000/mm3; <50.0 - 25.0 x 10e9 /L"\n', '',
     [PLAT, "text.grade_3 is missing"]),
    ("text-differs", '<50,000 - 25,000/mm3', '<50,000 - 25,000 /mm3',
     [PLAT, "text.grade_3 differs from terms.csv"]),
    ("text-extra", 'grade_4 = "<25,000/mm3; <25.0 x 10e9 /L"', 'grade_4 = "<25,000/mm3; <25.0 x 10e9 /L"\ngrade_5 = "Death"',
     [PLAT, "text.grade_5 is given but CTCAE v5.0 defines no grade 5"]),
    ("text-key", 'grade_4 = "<25,000/mm3; <25.0 x 10e9 /L"', 'grade_4 = "<25,000/mm3; <25.0 x 10e9 /L"\ng4 = "x"',
     [PLAT, "text has unknown key(s) ['g4']"]),
    ("note-needed", '{ grade = 4, basis = "abs", op = "<", value = { "10e9/L" = 25.0, "/mm3" = 25000.0 } },\n', '',
     [PLAT, "a `note` is required", "[4]"]),
    ("ctcae-version", 'ctcae_version = "5.0"', 'ctcae_version = "4.03"', ["ctcae_version must be '5.0'"]),
    ("no-version", 'version = "test"', '', ["`version`", "missing"]),
    ("vital-clash", '[vital_signs.SYSBP]', '[vital_signs.ALT]', ["vital_signs.ALT is also a lab catalogue code"]),
    ("bad-toml", 'direction = "low"', 'direction = "low', ["not valid TOML"]),
]


@pytest.mark.parametrize("cid, old, new, fragments", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_loader_refuses_bad_data_naming_the_record(cid, old, new, fragments):
    assert old in GOOD, f"{cid}: fixture text not found"
    with pytest.raises(CriteriaError) as e:
        parse_criteria(GOOD.replace(old, new, 1))
    msg = str(e.value)
    for f in fragments:
        assert f in msg, f"{cid}: {f!r} not in {msg!r}"


def test_old_single_unit_form_still_loads():
    """A record written before issue 10 (one `unit`, scalar values) is read as one printed unit."""
    old = GOOD.replace('units = ["10e9/L", "/mm3"]', 'unit = "10^9/L"')
    for v in (75.0, 50.0, 25.0):
        old = old.replace(f'value = {{ "10e9/L" = {v}, "/mm3" = {v * 1000} }}', f'value = {v}, unit = "10^9/L"')
    r = parse_criteria(old).for_test("PLAT", "low")
    assert r.units == ("10^9/L",) and [t.value for t in r.thresholds[1:]] == [75.0, 50.0, 25.0]


def test_duplicate_test_and_direction_is_refused():
    second = GOOD.split("[[criteria]]")[2]
    with pytest.raises(CriteriaError, match=r"criteria\[2\] .*a second record for test PLAT direction low "
                                            r"\(first: criteria\[1\]\)"):
        parse_criteria(GOOD + "\n[[criteria]]" + second)


def test_scale_must_cover_catalogue_results():
    text = GOOD + f'''
[[criteria]]
term = "Proteinuria"
test = "UPROT"
direction = "high"
units = ["dipstick"]
note = "dipstick only"
thresholds = [ {{ grade = 1, basis = "abs", op = ">=", value = {{ "dipstick" = 1.0 }} }} ]
[criteria.text]
{_text_table("Proteinuria")}
[criteria.scale]
"neg" = 0.0
"1+" = 1.0
'''
    with pytest.raises(CriteriaError, match=r"criteria\[2\] \(UPROT / 'Proteinuria' / high\): scale lacks "
                                            r"the catalogue result\(s\) \['\+', '\+\+', '\+\+\+', '\+\+\+\+', "
                                            r"'2\+', '3\+', '4\+', 'negative', 'trace'\]"):
        parse_criteria(text)


def test_side_term_series_are_the_side_terms_built_once():
    """term_expr reads each direction's test -> CTCAE term mapping as kept Series (built once per
    criteria object): the same mapping as side_terms."""
    from monitor.ctcae.criteria import load_criteria
    from monitor.ctcae.grade import side_terms

    crit = load_criteria()
    for side in ("low", "high"):
        old, new = crit.side_term_series(side)
        assert dict(zip(old.to_list(), new.to_list())) == side_terms(side, crit) != {}
        assert crit.side_term_series(side) is crit.side_term_series(side)

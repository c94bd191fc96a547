"""Lab units are parsed (pint), not listed: spellings, dimensions, analyte bridges, suggestions."""

from __future__ import annotations

import math

import polars as pl
import pytest

from monitor.labs import units as U
from monitor.labs.catalogue import CatalogueError, load_catalogue, parse_catalogue, with_lab_codes

CAT = load_catalogue()

# test, unit as written, factor to the test's SI unit (by hand: 1 K/uL = 10^3/uL = 10^9/L ...)
TO_SI = [
    ("PLAT", "10^9/L", 1.0), ("PLAT", "K/uL", 1.0), ("PLAT", "k/uL", 1.0), ("PLAT", "10*3/uL", 1.0),
    ("PLAT", "x10E3/µL", 1.0), ("PLAT", "×10³/µL", 1.0), ("PLAT", "thou/uL", 1.0), ("PLAT", "THOU/uL", 1.0),
    ("PLAT", "Gpt/L", 1.0), ("PLAT", "GI/L", 1.0), ("PLAT", "G/L", 1.0), ("PLAT", "10⁹/L", 1.0),
    ("PLAT", "x10(9)/L", 1.0), ("PLAT", "10e9/L", 1.0), ("PLAT", "10E+09/L", 1.0),
    ("PLAT", "cells/mm^3", 0.001), ("PLAT", "cells/mm3", 0.001), ("PLAT", "/mm3", 0.001),
    ("PLAT", "1/uL", 0.001), ("PLAT", "/µL", 0.001), ("PLAT", "10^3/mL", 0.001), ("PLAT", "cu mm", None),
    ("PLAT", "/cu mm", 0.001), ("PLAT", "cells/uL", 0.001), ("WBC", "MILL/uL", 1000.0), ("WBC", "TI/L", 1000.0),
    ("UPROT24", "g/24h", 1.0), ("UPROT24", "mg/24 hr", 0.001), ("UPROT24", "mg/24h", 0.001),
    ("UPROT24", "g/day", 1.0), ("UPROT24", "mg/d", 0.001), ("UPROT24", "g/24 hrs", 1.0),
    ("CA", "mmol/L", 1.0), ("CA", "mg/dL", 0.2495), ("CA", "MG/DL", 0.2495), ("CA", "mEq/L", 0.5),
    ("CA", "MEQ/L", 0.5), ("CA", "mg/L", 0.02495), ("CA", "umol/L", 0.001),
    ("K", "mEq/L", 1.0), ("SODIUM", "meq/l", 1.0), ("MG", "mEq/L", 0.5), ("MG", "mg/dL", 0.4114),
    ("HGB", "g/dL", 10.0), ("HGB", "mmol/L", 16.11), ("HGB", "g/L", 1.0), ("HGB", "mg/dL", 0.01),
    ("GLUC", "mg/dL", 0.05551), ("GLUC", "mmol/L", 1.0), ("GLUC", "g/L", 5.551),
    ("ALT", "U/L", 1.0), ("ALT", "IU/L", 1.0), ("ALT", "ukat/L", 60.0), ("ALT", "µkat/L", 60.0),
    ("ALT", "mU/mL", 1.0), ("ALT", "nkat/L", 0.06), ("ALT", "UL", None), ("ALT", "mg/dL", None),
    ("ALT", "", None), ("ALT", "NO UNITS", None),
    ("TSH", "uIU/mL", 1.0), ("TSH", "mIU/L", 1.0), ("TSH", "mU/L", 1.0),
    ("AFP", "IU/mL", 1.21), ("AFP", "kIU/L", 1.21), ("AFP", "ug/L", 1.0), ("AFP", "mcg/L", 1.0),
    ("INR", "", 1.0), ("INR", "ratio", 1.0), ("INR", "INR", 1.0), ("PH", "pH", 1.0), ("PH", "NO UNITS", 1.0),
    ("UPROT", "dipstick", 1.0), ("METHGB", "%", 1.0), ("METHGB", "FRACTION", 100.0),
    ("GFR", "mL/min/1.73m2", 1.0), ("GFR", "ml/min/1.73 m2", 1.0), ("GFR", "mL/min/1.73 m^2", 1.0),
    ("TROPONI", "ng/mL", 1000.0), ("TROPONI", "pg/mL", 1.0), ("BILI", "mg/dL", 17.1), ("BILI", "µmol/L", 1.0),
    ("CREAT", "mg/dL", 88.42), ("CREAT", "mg/L", 8.842), ("PHOS", "mg/dL", 0.3229),
]


@pytest.mark.parametrize("test, unit, factor", TO_SI, ids=[f"{t}-{u}" for t, u, _ in TO_SI])
def test_unit_spellings_convert_to_si(test, unit, factor):
    got = CAT.to_si(test, unit)
    if factor is None:
        assert got is None
    else:
        assert got is not None and math.isclose(got, factor, rel_tol=1e-9), got


def test_listed_factors_win_over_the_molar_mass():
    """tests.toml lists 0.2495 for calcium mg/dL; 40.078 g/mol would give 0.24951."""
    assert CAT.to_si("CA", "mg/dL") == 0.2495


def test_ambiguous_spelling_keeps_the_reading_that_fits_the_test():
    assert [p.expr for p in U.parse_unit("G/L")] == ["1e9/L", "g/L"]
    assert CAT.to_si("PLAT", "G/L") == 1.0 and CAT.to_si("HGB", "G/L") == 1.0


def test_k_is_a_thousand_only_before_a_slash():
    assert CAT.to_si("K", "mmol/L") == 1.0                 # the potassium test, not the prefix
    assert U.parse_unit("K/uL")[0].expr == "1e3/uL"
    assert U.parse_unit("kIU/L")[0].expr == "kIU/L"


def test_unknown_units_parse_to_nothing():
    for text in ("bogus", "mg/dL/xyz", "((", "U/"):
        assert CAT.to_si("ALT", text) is None


@pytest.mark.parametrize("test, unit, hint", [("ALT", "UL", "U/L"), ("ALT", "U/l.", "U/L"), ("BILI", "umol/l/",
                                                                                             "umol/L"),
                                               ("HGB", "gdL", "g/dL"), ("PLAT", "10^9", "10^9/L")])
def test_unknown_unit_suggests_the_nearest_accepted(test, unit, hint):
    assert CAT.to_si(test, unit) is None or unit == "U/l."
    assert CAT.suggest_unit(test, unit) == hint


def test_each_distinct_unit_is_parsed_once():
    cat = parse_catalogue(_catalogue_text())
    U.parse_unit.cache_clear()
    frame = pl.DataFrame({"test": ["PLAT", "Platelets", "PLAT"] * 2000, "unit": ["K/uL", "K/uL", "/mm3"] * 2000})
    out = with_lab_codes(frame, cat)
    assert out["unit_factor"].unique().sort().to_list() == [0.001, 1.0]
    info = U.parse_unit.cache_info()
    assert info.misses == 2 and info.hits == 0, info     # two distinct spellings, parsed once each


def _catalogue_text() -> str:
    from importlib import resources

    return resources.files("monitor.labs").joinpath("tests.toml").read_text("utf-8")


def test_a_listed_factor_that_contradicts_the_molar_mass_is_refused():
    text = _catalogue_text().replace('units = { "mmol/L" = 1.0, "mg/dL" = 0.2495, "mEq/L" = 0.5 }\n'
                                     'molar_mass = 40.078',
                                     'units = { "mmol/L" = 1.0, "mg/dL" = 0.25, "mEq/L" = 0.25 }\n'
                                     'molar_mass = 40.078', 1)
    with pytest.raises(CatalogueError, match=r"tests\.CA: unit 'mEq/L' has factor 0.25 but 0.5 follows"):
        parse_catalogue(text)


def test_plausibility_needs_its_source():
    text = _catalogue_text().replace('plausible = { low = 5.0, high = 250.0, source = "physiological limit: '
                                     'whole-blood', 'plausible = { low = 5.0, high = 250.0, nosource = "', 1)
    with pytest.raises(CatalogueError, match=r"tests\.HGB\.plausible must be \{ low, high, source \}"):
        parse_catalogue(text)


def test_every_graded_test_has_a_plausibility_range_with_a_source():
    from monitor.ctcae.criteria import load_criteria

    for r in load_criteria():
        t = CAT.tests.get(r.test)
        if t is not None and r.scale is None:
            assert t.plausible and t.plausible_source and len(t.plausible_source) > 30, r.test


def test_old_catalogue_entries_without_new_fields_still_load():
    """Tests appended in the old layout (name, aliases, si_unit, units; extra keys like
    `specimen`) load unchanged: every field added here is optional."""
    text = _catalogue_text() + '''
[tests.ZZTEST]
name = "Some analyte"
aliases = ["ZZ"]
si_unit = "umol/L"
specimen = "URINE"
units = { "umol/L" = 1.0, "mg/dL" = 10.0, "NO UNITS" = 1.0, "weird(unit)" = 2.0 }
'''
    cat = parse_catalogue(text)
    t = cat.tests["ZZTEST"]
    assert t.plausible is None and cat.to_si("ZZTEST", "mg/L") == 1.0 and cat.to_si("ZZTEST", "weird(unit)") == 2.0


def test_hostile_units_are_bounded():
    """A sheet of random unit text parses at most MAX_DISTINCT_UNITS spellings (the most frequent)
    and never hands text longer than MAX_UNIT_CHARS to the parser."""
    from monitor.labs.catalogue import MAX_DISTINCT_UNITS

    cat = parse_catalogue(_catalogue_text())
    U.parse_unit.cache_clear()
    units = [f"u{i}/L" for i in range(MAX_DISTINCT_UNITS + 500)] + ["U/L"] * 3 + ["x" * 41]
    out = with_lab_codes(pl.DataFrame({"test": ["ALT"] * len(units), "unit": units}), cat)
    assert U.parse_unit.cache_info().misses == MAX_DISTINCT_UNITS
    assert out["unit_factor"].drop_nulls().to_list() == [1.0] * 3
    assert U.parse_unit("m" * 41) == ()


def test_the_precomputed_unit_table_is_current():
    """units_known.json holds pint's readings of the catalogue's and the criteria's unit
    spellings (so a check whose units are all listed never imports pint); after a change to
    units.py, tests.toml or the criteria, rewrite it with `python -m monitor.labs.units`."""
    import json

    assert json.loads(U.KNOWN_TABLE.read_text("utf-8")) == json.loads(json.dumps(U.build_table()))
    assert U._known(), "the table's source key does not match units.py: rewrite it"


def test_a_unit_in_the_table_reads_the_same_as_pint_reads_it():
    for text, readings in U._known().items():
        assert readings == U._parse(text), text


def test_a_check_whose_units_are_all_listed_never_imports_pint():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    code = ("import sys; from monitor.check import check_workbook; from monitor.profile.profile import load_profile; "
            f"r = check_workbook({str(root / 'sample_sheets' / 'messy_site.xlsx')!r}, load_profile()); "
            "assert r.findings; print('pint' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert out.stdout.strip() == "False", out.stderr[-2000:]

"""The README's generated tables match the registry and the schema."""

from pathlib import Path

from monitor.docs import render_readme
from monitor.rules.registry import RULES

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_generated_tables_are_current():
    text = README.read_text("utf-8")
    assert render_readme(text) == text, "README is stale: run .venv/bin/python scripts/gen_docs.py"


def test_readme_lists_every_rule_code():
    text = README.read_text("utf-8")
    for r in RULES:
        assert f"| {r.code} | `{r.name}` |" in text


def test_every_synonym_suggests_real_ctcae_terms():
    from monitor.ctcae.terms import load_terms

    terms = load_terms()
    assert terms.synonyms
    for name, targets in terms.synonyms.items():
        assert terms.get(name) is None, f"{name} is itself a CTCAE term"
        for t in targets:
            assert terms.get(t) is not None, f"{name} -> {t} is not a CTCAE v5.0 term"


def test_profile_names_only_ctcae_v5_terms():
    from monitor.ctcae.terms import load_terms
    from monitor.profile.profile import load_profile

    terms, prof = load_terms(), load_profile()
    named = [t for h in prof.hold_rules for t in h["when"].get("ae_terms", [])]
    named += [t for k, v in prof.lab_ae_terms.items() if isinstance(v, list) and k != "verbatim_patterns"
              for t in [k, *v]]
    assert named
    for t in named:
        assert terms.get(t) is not None, f"profile names {t!r}, not a CTCAE v5.0 term"


def test_protocol_rules_doc_lists_the_profile_rules_and_is_current():
    from monitor.docs import render_protocol_rules
    from monitor.profile.profile import load_profile

    doc = Path(__file__).resolve().parent.parent / "docs" / "protocol_rules.md"
    text = doc.read_text("utf-8")
    assert "<!-- BEGIN GENERATED HOLD RULES -->" in text
    assert render_protocol_rules(text) == text, "docs/protocol_rules.md is stale: run scripts/gen_docs.py"
    for h in load_profile().hold_rules:
        assert h["source"] in text

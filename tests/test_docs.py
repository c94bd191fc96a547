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

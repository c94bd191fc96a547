"""Regenerate the README's rule table and workbook tables from the registry and schema, and the
hold / stop rule table of docs/protocol_rules.md from the bundled profile."""

from pathlib import Path

from monitor.docs import render_protocol_rules, render_readme

root = Path(__file__).resolve().parent.parent
for path, render in ((root / "README.md", render_readme), (root / "docs" / "protocol_rules.md", render_protocol_rules)):
    path.write_text(render(path.read_text("utf-8")), "utf-8")
    print(f"updated {path}")

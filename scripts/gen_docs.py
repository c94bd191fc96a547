"""Regenerate the README's rule table and workbook tables from the registry and schema."""

from pathlib import Path

from monitor.docs import render_readme

readme = Path(__file__).resolve().parent.parent / "README.md"
new = render_readme(readme.read_text("utf-8"))
readme.write_text(new, "utf-8")
print(f"updated {readme}")

"""Generated documentation: the rule table and the workbook tables, from the registry and schema."""

from __future__ import annotations

import re

from .workbook.schema import SHEETS, Kind, SHEET_ALIASES


def rule_table() -> str:
    from .rules.registry import RULES

    lines = ["| code | name | severity | what it catches |", "| --- | --- | --- | --- |"]
    for r in RULES:
        lines.append(f"| {r.code} | `{r.name}` | {r.severity.value} | {r.summary.replace('|', '/')} |")
    return "\n".join(lines)


def workbook_tables() -> str:
    out = []
    for s in SHEETS:
        aliases = SHEET_ALIASES.get(s.name, ())
        req = "required" if s.required else "optional"
        out.append(f"#### {s.name} ({req}{'; also: ' + ', '.join(aliases) if aliases else ''})")
        out.append("")
        out.append(s.doc)
        out.append("")
        out.append("| column | aliases | kind | required | notes |")
        out.append("| --- | --- | --- | --- | --- |")
        for c in s.columns:
            req = "yes" if c.required else (f"if {c.required_if}" if c.required_if else "no")
            notes = c.doc
            if c.kind is Kind.CHOICE:
                notes += " One of: " + ", ".join(c.choices) + "."
            if c.min is not None or c.max is not None:
                notes += f" Range {c.min:g}-{c.max:g}." if c.min is not None and c.max is not None else ""
            out.append(f"| {c.header} | {', '.join(c.aliases)} | {c.kind.value} | {req} | {notes.strip()} |")
        if s.dynamic == "related":
            out.append("| Related to DRUG | | yes/no | yes | One column per drug of the profile, "
                       "e.g. `Related to QL1604`, `Related to Bevacizumab`. |")
        out.append("")
    return "\n".join(out).rstrip()


def render_readme(text: str) -> str:
    """Replace the generated blocks of the README (between BEGIN/END markers)."""
    for name, body in (("RULES", rule_table()), ("WORKBOOK", workbook_tables())):
        pat = re.compile(rf"(<!-- BEGIN GENERATED {name} -->\n).*?(<!-- END GENERATED {name} -->)", re.S)
        text = pat.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)
    return text


def rule_doc(rule) -> str:
    """A rule's documentation for the terminal: code, name, severity, then What / Why / Example."""
    import inspect
    import textwrap

    summary, _, body = inspect.cleandoc(rule.check.__doc__ or "").partition("\n")
    parts = re.split(r"\*(What it does|Why it matters|Example)\*:\s*", body)
    out = [f"{rule.code} {rule.name} ({rule.severity.value})", "", summary.strip()]
    if " ".join(parts[0].split()):
        out += [""] + textwrap.wrap(" ".join(parts[0].split()), 98)
    for title, text in zip(parts[1::2], parts[2::2]):
        out += ["", f"{title}:"] + textwrap.wrap(" ".join(text.split()), 96, initial_indent="  ",
                                                 subsequent_indent="  ")
    return "\n".join(out)

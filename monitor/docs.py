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


def profile_rule_table(profile=None) -> str:
    """The bundled profile's hold and stop rules as a table: drug, condition, action, source
    (docs/protocol_rules.md; generated so the document cannot drift from the TOML)."""
    from .derive.holds import describe_rule
    from .labs.catalogue import load_catalogue
    from .profile.profile import load_profile

    prof = profile or load_profile()
    units = {code: t.si_unit for code, t in load_catalogue().tests.items()}
    lines = ["| # | drug | condition | action | source |", "| --- | --- | --- | --- | --- |"]
    for i, h in enumerate(prof.hold_rules):
        text = describe_rule(h, units)
        cond = text.split(" for ", 1)[1]
        action = "hold" if h["action"] == "hold" else "permanently discontinue"
        extra = [x for x in ("until_grade", "steroid_max_mg") if x in h["when"]]
        if extra and ", until" in cond:
            cond, _, tail = cond.partition(", until")
            action += ", until" + tail
        elif "; resume" in cond:
            cond, _, tail = cond.partition("; resume")
            action += "; resume" + tail
        if len(h["terms"]) > 3:
            cond += f" ({len(h['terms'])} CTCAE terms)"
        lines.append(f"| {i} | {h['drug']} | {cond.replace('|', '/')} | {action} | {h['source'].replace('|', '/')} |")
    lines += ["", "| group | CTCAE v5.0 terms | source |", "| --- | --- | --- |"]
    for name, g in prof.ae_groups.items():
        terms = g["terms_resolved"]
        if len(terms) > 45:   # e.g. every term outside one SOC: the definition, not 800 names
            spec = "; ".join(f"{k} {', '.join(map(repr, g[k]))}" for k in ("terms", "socs", "patterns",
                                                                             "exclude_terms", "exclude_socs") if k in g)
            shown = f"{len(terms)} terms: {spec}"
        else:
            shown = ", ".join(terms)
        lines.append(f"| {name} | {shown} | {g['source'].replace('|', '/')} |")
    red = prof.dose_reduction
    if red.get("not_allowed"):
        lines += ["", f"No dose reduction allowed (DOSE010): {', '.join(red['not_allowed'])} ({red['source']})."]
    return "\n".join(lines)


def render_protocol_rules(text: str) -> str:
    """Replace the generated block of docs/protocol_rules.md (between BEGIN/END markers)."""
    pat = re.compile(r"(<!-- BEGIN GENERATED HOLD RULES -->\n).*?(<!-- END GENERATED HOLD RULES -->)", re.S)
    return pat.sub(lambda m: m.group(1) + profile_rule_table() + "\n" + m.group(2), text)


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

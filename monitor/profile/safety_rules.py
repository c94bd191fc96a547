"""Hold / stop rules of a profile: CTCAE term groups, liver bands, resolution and steroid
conditions, and the sections they use ([ae_groups], [dose_reduction], [steroids]).

A rule names CTCAE v5.0 terms directly (`ae_terms`), by System Organ Class (`ae_socs`), by
pattern (`ae_patterns`, a case-insensitive regular expression matched against the term) or by a
named group of the profile (`ae_groups`). Everything is resolved once, at load time, against the
shipped CTCAE table (monitor/ctcae/terms.csv) into `rule["terms"]`: an unknown term, SOC or group,
or a group that resolves to nothing, is an error naming the key. Values are data, compared with a
fixed vocabulary of operators (`min_grade` >=, `x_uln_above` >, `x_uln_at_least` >=,
`baseline_x_uln_above` >, `baseline_x_uln_max` <=); nothing from the file is evaluated as code.
"""

from __future__ import annotations

import re

WHEN_KEYS = ("lab", "ae_terms", "ae_socs", "ae_patterns", "ae_groups", "min_grade", "min_value",
             "immune_related", "until_grade", "x_uln_above", "x_uln_at_least", "baseline_x_uln_above",
             "baseline_x_uln_max", "unresolved_weeks", "resolved_grade", "steroid_max_mg")
AE_KEYS = ("ae_terms", "ae_socs", "ae_patterns", "ae_groups")
GROUP_KEYS = ("terms", "socs", "patterns", "exclude_terms", "exclude_socs", "source")


def _error(msg: str):
    from .profile import ProfileError

    return ProfileError(msg)


def _texts(d: dict, key: str, where: str) -> list:
    v = d[key]
    if not isinstance(v, list) or not v or not all(isinstance(x, str) and x.strip() for x in v):
        raise _error(f"{where}.{key} must be a non-empty list of text, found {v!r}")
    return v


def _terms_table():
    from ..ctcae.terms import load_terms

    return load_terms()


_SOC_INDEX: list = []   # [(table, its SOCs, term as spelled -> SOC)] of the last table read


def _soc_index(table) -> tuple[set, dict]:
    """(the SOCs of the CTCAE table, term as the table spells it -> its SOC), worked out once per
    table: a profile resolves ~45 rules and groups against it (~6 ms of every command)."""
    if not _SOC_INDEX or _SOC_INDEX[0][0] is not table:
        terms = table.by_norm.values()
        _SOC_INDEX[:] = [(table, {t.soc for t in terms}, {t.term: t.soc for t in terms})]
    return _SOC_INDEX[0][1], _SOC_INDEX[0][2]


def _resolve(spec: dict, where: str, groups: dict) -> list:
    """CTCAE v5.0 term names (as the table spells them) of `spec`: terms, SOCs, patterns (SOCs and
    patterns together: the SOCs' terms that match), named groups, minus exclusions."""
    table = _terms_table()
    socs, soc_of = _soc_index(table)
    out: dict = {}
    for t in spec.get("terms", spec.get("ae_terms", [])) or []:
        term = table.get(t)
        if term is None:
            raise _error(f"{where}: {t!r} is not a CTCAE v5.0 term")
        out[term.term] = None
    soc_list = spec.get("socs", spec.get("ae_socs")) or []
    for s in soc_list:
        if s not in socs:
            raise _error(f"{where}: {s!r} is not a CTCAE v5.0 System Organ Class")
    pats = []
    for p in spec.get("patterns", spec.get("ae_patterns")) or []:
        try:
            pats.append(re.compile(p, re.I))
        except re.error as e:
            raise _error(f"{where}: pattern {p!r} is not a valid regular expression ({e})") from None
    if soc_list or pats:
        for term in table.by_norm.values():
            if soc_list and term.soc not in soc_list:
                continue
            if pats and not any(p.search(term.term) for p in pats):
                continue
            out[term.term] = None
    for g in spec.get("ae_groups", []) or []:
        if g not in groups:
            raise _error(f"{where}: group {g!r} is not defined in [ae_groups] ({', '.join(sorted(groups))})")
        for t in groups[g]["terms_resolved"]:
            out[t] = None
    excl_terms = {table.get(t).term if table.get(t) else t for t in spec.get("exclude_terms", []) or []}
    excl_socs = set(spec.get("exclude_socs", []) or [])
    for t in excl_terms:
        if table.get(t) is None:
            raise _error(f"{where}.exclude_terms: {t!r} is not a CTCAE v5.0 term")
    for s in excl_socs:
        if s not in socs:
            raise _error(f"{where}.exclude_socs: {s!r} is not a CTCAE v5.0 System Organ Class")
    # every term in `out` is spelled as in the table (soc_of has it; table.get is the slow way)
    res = [t for t in out if t not in excl_terms
           and (not excl_socs or (soc_of[t] if t in soc_of else table.get(t).soc) not in excl_socs)]
    if not res:
        raise _error(f"{where} names no CTCAE v5.0 term")
    return res


def parse_groups(data: dict) -> dict:
    """[ae_groups.NAME]: terms / socs / patterns / exclusions and a source -> NAME: {..., terms_resolved}."""
    raw = data.get("ae_groups", {})
    if not isinstance(raw, dict):
        raise _error("ae_groups must be a table of named groups")
    out = {}
    for name, g in raw.items():
        where = f"ae_groups.{name}"
        if not isinstance(g, dict):
            raise _error(f"{where} must be a table")
        unknown = sorted(set(g) - set(GROUP_KEYS))
        if unknown:
            raise _error(f"{where}.{unknown[0]} is not a known key ({', '.join(GROUP_KEYS)})")
        if not any(k in g for k in ("terms", "socs", "patterns")):
            raise _error(f"{where} needs terms, socs or patterns")
        for k in ("terms", "socs", "patterns", "exclude_terms", "exclude_socs"):
            if k in g:
                _texts(g, k, where)
        if not isinstance(g.get("source"), str):
            raise _error(f"{where}.source is missing")
        out[name] = dict(g, terms_resolved=tuple(_resolve(g, where, {})))
    return out


def check_when_extra(w: dict, where: str, number) -> None:
    """The keys beyond lab / ae_terms / min_grade / min_value / immune_related (checked in profile.py)."""
    for k in ("ae_socs", "ae_patterns", "ae_groups"):
        if k in w:
            _texts(w, k, where)
    if "until_grade" in w:
        number(w, "until_grade", where, 0, 4, integer=True)
        if "min_grade" in w and w["until_grade"] >= w["min_grade"]:
            raise _error(f"{where}.until_grade must be below min_grade, found {w['until_grade']!r}")
    for k in ("x_uln_above", "x_uln_at_least", "baseline_x_uln_above", "baseline_x_uln_max"):
        if k in w:
            number(w, k, where, 0, lo_open=k != "baseline_x_uln_above")
            if "lab" not in w:
                raise _error(f"{where}.{k} needs lab")
    if "x_uln_above" in w and "x_uln_at_least" in w:
        raise _error(f"{where}: use x_uln_above or x_uln_at_least, not both")
    if ("baseline_x_uln_above" in w and "baseline_x_uln_max" in w
            and w["baseline_x_uln_above"] >= w["baseline_x_uln_max"]):
        raise _error(f"{where}.baseline_x_uln_above must be below baseline_x_uln_max")
    if "unresolved_weeks" in w or "resolved_grade" in w:
        number(w, "unresolved_weeks", where, 0, lo_open=True)
        number(w, "resolved_grade", where, 0, 4, integer=True)
    if "steroid_max_mg" in w:
        number(w, "steroid_max_mg", where, 0)


def finish_rule(h: dict, where: str, groups: dict) -> dict:
    """The rule with `terms` (resolved CTCAE terms, empty for a lab-only rule) and checked actions."""
    w = h["when"]
    if "unresolved_weeks" in w and h["action"] != "discontinue":
        raise _error(f"{where}.when.unresolved_weeks needs action 'discontinue'")
    if "steroid_max_mg" in w and h["action"] != "hold":
        raise _error(f"{where}.when.steroid_max_mg needs action 'hold'")
    if "unresolved_weeks" in w and not any(k in w for k in AE_KEYS):
        raise _error(f"{where}.when.unresolved_weeks needs AE terms")
    terms = _resolve(w, f"{where}.when", groups) if any(k in w for k in AE_KEYS) else []
    return dict(h, terms=tuple(terms))


def parse_dose_reduction(data: dict, drug_names: set) -> dict:
    """[dose_reduction]: not_allowed = [drugs], source."""
    r = data.get("dose_reduction", {})
    if not isinstance(r, dict):
        raise _error("dose_reduction must be a table")
    if not r:
        return {"not_allowed": (), "source": ""}
    drugs = _texts(r, "not_allowed", "dose_reduction") if "not_allowed" in r else []
    for dname in drugs:
        if dname not in drug_names:
            raise _error(f"dose_reduction.not_allowed: {dname!r} is not one of the profile's drugs")
    if not isinstance(r.get("source"), str):
        raise _error("dose_reduction.source is missing")
    return {"not_allowed": tuple(drugs), "source": r["source"]}


def parse_steroids(data: dict) -> dict:
    """[steroids]: prednisone-equivalent factor per corticosteroid (mg prednisone per mg), source."""
    s = data.get("steroids", {})
    if not isinstance(s, dict):
        raise _error("steroids must be a table")
    if not s:
        return {"prednisone_equivalent": {}, "source": ""}
    eq = s.get("prednisone_equivalent")
    if not isinstance(eq, dict) or not eq:
        raise _error("steroids.prednisone_equivalent must be a table: drug = mg prednisone per mg")
    for k, v in eq.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v <= 0:
            raise _error(f"steroids.prednisone_equivalent.{k} must be a number > 0, found {v!r}")
    if not isinstance(s.get("source"), str):
        raise _error("steroids.source is missing")
    return {"prednisone_equivalent": {re.sub(r"[^0-9a-z]+", "", k.lower()): float(v) for k, v in eq.items()},
            "source": s["source"]}

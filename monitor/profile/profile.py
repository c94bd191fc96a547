"""Load and validate a protocol profile (TOML). A broken profile is an error naming its key."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

DEFAULT_PROFILE = "ql1604_bev_hcc"


class ProfileError(Exception):
    """The profile file is not valid; the message names the key."""


@dataclass(frozen=True)
class Drug:
    name: str
    aliases: tuple[str, ...]
    dose: float
    unit: str
    route: str
    source: str


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    version: str
    path: str
    schedule: dict
    safety: dict
    drugs: tuple[Drug, ...]
    markers: tuple[dict, ...]
    hold_rules: tuple[dict, ...]
    lab_ae_terms: dict
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def drug_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.drugs)

    def drug_lookup(self) -> dict:
        """Normalised name or alias -> canonical drug name."""
        out = {}
        for d in self.drugs:
            for n in (d.name, *d.aliases):
                out[_norm(n)] = d.name
        return out


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", str(text).lower())


def _need(d: dict, key: str, where: str, types):
    if key not in d:
        raise ProfileError(f"{where}.{key} is missing")
    v = d[key]
    if not isinstance(v, types) or isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise ProfileError(f"{where}.{key} must be {_typename(types)}, found {v!r}")
    return v


def _typename(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join({int: "a number", float: "a number", str: "text", list: "a list",
                        dict: "a table", bool: "true/false"}[t] for t in types)


_SCHEDULE_KEYS = ("cycle_days", "window_days", "predose_lab_days", "dose_tolerance_pct", "weight_change_pct")
_SAFETY_KEYS = ("sae_report_hours", "lab_ae_min_grade", "lab_ae_tolerance_days", "hys_law_window_days")


def parse_profile(data: dict, path: str) -> Profile:
    prof = _need(data, "profile", "profile file", dict) if "profile" in data else None
    if prof is None:
        raise ProfileError("[profile] table is missing")
    name = _need(prof, "name", "profile", str)
    sched = _need(data, "schedule", "profile file", dict)
    for k in _SCHEDULE_KEYS:
        v = _need(sched, k, "schedule", (int, float))
        if v < 0:
            raise ProfileError(f"schedule.{k} must not be negative, found {v!r}")
    if sched["cycle_days"] <= 0:
        raise ProfileError("schedule.cycle_days must be > 0")
    safety = _need(data, "safety", "profile file", dict)
    for k in _SAFETY_KEYS:
        v = _need(safety, k, "safety", (int, float))
        if v < 0:
            raise ProfileError(f"safety.{k} must not be negative, found {v!r}")
    if not 1 <= safety["lab_ae_min_grade"] <= 5:
        raise ProfileError(f"safety.lab_ae_min_grade must be 1-5, found {safety['lab_ae_min_grade']!r}")
    drugs_raw = _need(data, "drugs", "profile file", list)
    if not drugs_raw:
        raise ProfileError("drugs must list at least one drug")
    drugs, seen = [], {}
    for i, d in enumerate(drugs_raw):
        where = f"drugs[{i}]"
        if not isinstance(d, dict):
            raise ProfileError(f"{where} must be a table")
        dname = _need(d, "name", where, str)
        aliases = tuple(_need(d, "aliases", where, list)) if "aliases" in d else ()
        dose = _need(d, "dose", where, (int, float))
        if dose <= 0:
            raise ProfileError(f"{where}.dose must be > 0, found {dose!r}")
        unit = _need(d, "unit", where, str)
        if unit not in ("mg", "mg/kg"):
            raise ProfileError(f"{where}.unit must be 'mg' or 'mg/kg', found {unit!r}")
        for n in (dname, *aliases):
            if _norm(n) in seen and seen[_norm(n)] != dname:
                raise ProfileError(f"{where}.aliases: {n!r} already names {seen[_norm(n)]}")
            seen[_norm(n)] = dname
        drugs.append(Drug(dname, tuple(str(a) for a in aliases), float(dose), unit,
                          str(d.get("route", "")), _need(d, "source", where, str)))
    markers = tuple(data.get("markers", ()))
    for i, m in enumerate(markers):
        _need(m, "test", f"markers[{i}]", str)
        _need(m, "source", f"markers[{i}]", str)
    holds = tuple(data.get("hold_rules", ()))
    names = {d.name for d in drugs}
    for i, h in enumerate(holds):
        where = f"hold_rules[{i}]"
        drug = _need(h, "drug", where, str)
        if drug not in names:
            raise ProfileError(f"{where}.drug {drug!r} is not one of the profile's drugs ({', '.join(sorted(names))})")
        if _need(h, "action", where, str) not in ("hold", "discontinue"):
            raise ProfileError(f"{where}.action must be 'hold' or 'discontinue', found {h['action']!r}")
        _need(h, "when", where, dict)
        _need(h, "source", where, str)
    lab_ae = data.get("lab_ae_terms", {})
    if not isinstance(lab_ae, dict):
        raise ProfileError("lab_ae_terms must be a table")
    return Profile(name, str(prof.get("title", name)), str(prof.get("version", "")), path,
                   dict(sched), dict(safety), tuple(drugs), markers, holds, dict(lab_ae), data)


def bundled_profiles() -> dict:
    """Bundled profile name -> resource path."""
    out = {}
    for p in resources.files("monitor.profile").iterdir():
        if p.name.endswith(".toml"):
            out[p.name[:-5]] = p
    return out


def load_profile(source: str | Path | None = None) -> Profile:
    """Load a bundled profile by name, or a TOML file by path; default: the seed study."""
    source = source or DEFAULT_PROFILE
    bundled = bundled_profiles()
    if str(source) in bundled:
        res = bundled[str(source)]
        text, path = res.read_text("utf-8"), f"bundled:{source}"
    else:
        p = Path(source)
        if not p.is_file():
            raise ProfileError(f"{source}: no such profile file, and not a bundled profile "
                               f"({', '.join(sorted(bundled))})")
        text, path = p.read_text("utf-8"), str(p)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"{path}: not valid TOML: {e}") from None
    try:
        return parse_profile(data, path)
    except ProfileError as e:
        raise ProfileError(f"{path}: {e}") from None

"""Load and validate a protocol profile (TOML). A broken profile is an error naming its key."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .. import tomldata
from . import design, safety_rules
from .design import Arm, ArmDrug, DesignError

DEFAULT_PROFILE = "ql1604_bev_hcc"


class ProfileError(Exception):
    """The profile file is not valid; the message names the key."""


@dataclass(frozen=True)
class Drug:
    """One study drug of the profile: its names, planned dose, unit, route and steps."""

    name: str
    aliases: tuple[str, ...]
    dose: float | None          # the planned dose when it is one for every arm and cycle, else None
    unit: str
    route: str
    source: str
    placebo: bool = False
    steps: tuple = ()           # design.DoseStep: the drug's own dose by cycle (() when the arms give it)


@dataclass(frozen=True)
class Profile:
    """A study's protocol profile: schedule, drugs, safety and hold rules, markers and response
    criteria."""

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
    recist: dict = field(default_factory=dict)   # RECIST 1.1 thresholds ([recist] table)
    irecist: dict = field(default_factory=dict)  # iRECIST ([irecist]); empty: no iRECIST read
    mrecist: dict = field(default_factory=dict)  # mRECIST ([mrecist]); empty: no mRECIST read
    # issue 11: named CTCAE term groups, drugs without dose reduction, prednisone equivalents
    ae_groups: dict = field(default_factory=dict)
    dose_reduction: dict = field(default_factory=dict)
    steroids: dict = field(default_factory=dict)
    arms: tuple[Arm, ...] = ()   # study design ([[arms]]); () = every subject gets every drug

    @property
    def drug_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.drugs)

    @property
    def related_drug_names(self) -> tuple[str, ...]:
        """Drugs with a `Related to DRUG` column on AdverseEvents: every drug but placebos."""
        return tuple(d.name for d in self.drugs if not d.placebo)

    @property
    def continuous(self) -> bool:
        """Daily dosing without cycles (schedule.dosing = "continuous")."""
        return self.schedule.get("dosing") == "continuous"

    def has(self, need: str) -> bool:
        """Whether the study has an optional part: a section ("recist", "markers", "hold_rules",
        "arms") or a schedule key ("schedule.cycle_days")."""
        if need.startswith("schedule."):
            return need[len("schedule."):] in self.schedule
        if need == "weight_dosing":
            return any(d.unit == "mg/kg" for d in self.drugs)
        return bool(getattr(self, need))

    def arm_lookup(self) -> dict:
        """Normalised arm name or alias -> the profile's arm name."""
        return {_norm(n): a.name for a in self.arms for n in (a.name, *a.aliases)}

    def arm(self, name) -> Arm | None:
        """The arm named (or aliased) `name`, None when unknown or blank."""
        if name is None:
            return None
        found = self.arm_lookup().get(_norm(name))
        return next((a for a in self.arms if a.name == found), None)

    def design_arms(self) -> tuple[Arm, ...]:
        """The arms, or one implicit arm holding every drug at its own dose when there are none."""
        if self.arms:
            return self.arms
        return (Arm("", (), tuple(ArmDrug(d.name, d.steps) for d in self.drugs if d.steps)),)

    def drugs_for(self, arm_name) -> tuple[str, ...]:
        """The drugs a subject of the arm gets; an unknown arm (or a study without arms): the
        drugs every arm has."""
        arm = self.arm(arm_name)
        if arm is not None:
            return arm.drug_names
        sets = [set(a.drug_names) for a in self.design_arms()]
        common = set.intersection(*sets) if sets else set()
        return tuple(d.name for d in self.drugs if d.name in common)

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


_SAFETY_KEYS = ("sae_report_hours", "lab_ae_min_grade", "lab_ae_tolerance_days", "hys_law_window_days")


def parse_profile(data: dict, path: str) -> Profile:
    prof = _need(data, "profile", "profile file", dict) if "profile" in data else None
    if prof is None:
        raise ProfileError("[profile] table is missing")
    name = _need(prof, "name", "profile", str)
    try:
        design.check_table_names(data)
        sched = design.check_schedule(_need(data, "schedule", "profile file", dict))
    except DesignError as e:
        raise ProfileError(str(e)) from None
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
        placebo = _need(d, "placebo", where, bool) if "placebo" in d else False
        try:
            steps = design.parse_steps(d, where, placebo=placebo, required="arms" not in data)
        except DesignError as e:
            raise ProfileError(str(e)) from None
        levels = {x.dose for x in steps}
        dose = levels.pop() if len(levels) == 1 else None
        unit = _need(d, "unit", where, str)
        if unit not in ("mg", "mg/kg"):
            raise ProfileError(f"{where}.unit must be 'mg' or 'mg/kg', found {unit!r}")
        for n in (dname, *aliases):
            if _norm(n) in seen and seen[_norm(n)] != dname:
                raise ProfileError(f"{where}.aliases: {n!r} already names {seen[_norm(n)]}")
            seen[_norm(n)] = dname
        drugs.append(Drug(dname, tuple(str(a) for a in aliases), dose, unit,
                          str(d.get("route", "")), _need(d, "source", where, str), placebo, steps))
    try:
        arms = design.parse_arms(data, {x.name: (x.placebo, x.steps) for x in drugs})
    except DesignError as e:
        raise ProfileError(str(e)) from None
    markers = tuple(data.get("markers", ()))
    for i, m in enumerate(markers):
        _check_marker(m, f"markers[{i}]")
    holds = tuple(data.get("hold_rules", ()))
    names = {d.name for d in drugs}
    groups = safety_rules.parse_groups(data)
    for i, h in enumerate(holds):
        where = f"hold_rules[{i}]"
        drug = _need(h, "drug", where, str)
        if drug not in names:
            raise ProfileError(f"{where}.drug {drug!r} is not one of the profile's drugs ({', '.join(sorted(names))})")
        if _need(h, "action", where, str) not in ("hold", "discontinue"):
            raise ProfileError(f"{where}.action must be 'hold' or 'discontinue', found {h['action']!r}")
        _check_when(_need(h, "when", where, dict), f"{where}.when")
        _need(h, "source", where, str)
    holds = tuple(safety_rules.finish_rule(h, f"hold_rules[{i}]", groups) for i, h in enumerate(holds))
    recist = _check_recist(_need(data, "recist", "profile file", dict)) if "recist" in data else {}
    irecist, mrecist = _check_response_reads(data)
    lab_ae = data.get("lab_ae_terms", {})
    if not isinstance(lab_ae, dict):
        raise ProfileError("lab_ae_terms must be a table")
    return Profile(name, str(prof.get("title", name)), str(prof.get("version", "")), path,
                   dict(sched), dict(safety), tuple(drugs), markers, holds, dict(lab_ae), data, recist,
                   irecist, mrecist, ae_groups=groups,
                   dose_reduction=safety_rules.parse_dose_reduction(data, names),
                   steroids=safety_rules.parse_steroids(data), arms=arms)


def _lab_codes() -> set:
    from ..labs.catalogue import load_catalogue

    return set(load_catalogue().tests)


def _number(d: dict, key: str, where: str, lo=None, hi=None, lo_open=False, integer=False):
    """A number of a table, within [lo, hi] (lo excluded when lo_open); the error names the key."""
    v = _need(d, key, where, (int, float))
    if integer and not isinstance(v, int):
        raise ProfileError(f"{where}.{key} must be a whole number, found {v!r}")
    bad = (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi)
    if bad:
        if hi is None:
            rng = f"{'>' if lo_open else '>='} {lo}"
        else:
            rng = f"> {lo} and <= {hi}" if lo_open else f"{lo}-{hi}"
        raise ProfileError(f"{where}.{key} must be {rng}, found {v!r}")
    return v


def _check_marker(m, where: str) -> None:
    """[[markers]]: a catalogue test, response / progression thresholds, trend settings, source."""
    if not isinstance(m, dict):
        raise ProfileError(f"{where} must be a table")
    test = _need(m, "test", where, str)
    if test not in _lab_codes():
        raise ProfileError(f"{where}.test {test!r} is not a lab test code of the catalogue")
    _number(m, "response_fall_pct", where, 0, 100, lo_open=True)
    _number(m, "progression_rise_pct", where, 0, lo_open=True)
    _need(m, "progression_above_uln", where, bool)
    _number(m, "trend_min_points", where, 3, integer=True)
    _need(m, "source", where, str)
    # issue 11: fallback ULN (a blank site ULN), minimum baseline, confirmation interval, real rise
    for key, integer in (("uln", False), ("min_baseline", False), ("confirm_interval_days", True),
                         ("trend_min_change_pct", False)):
        if key in m:
            _number(m, key, where, 0, integer=integer)


_WHEN_KEYS = safety_rules.WHEN_KEYS


def _check_when(w: dict, where: str) -> None:
    """A hold rule's condition: lab codes and/or CTCAE terms, a minimum grade (or a minimum lab
    value), optionally immune-related only. Values are data, compared with fixed operators."""
    unknown = sorted(set(w) - set(_WHEN_KEYS))
    if unknown:
        raise ProfileError(f"{where}.{unknown[0]} is not a known key ({', '.join(_WHEN_KEYS)})")
    has_ae = any(k in w for k in safety_rules.AE_KEYS)
    if "lab" not in w and not has_ae:
        raise ProfileError(f"{where} needs lab or ae_terms (or ae_socs, ae_patterns, ae_groups)")
    for key in ("lab", "ae_terms"):
        if key in w:
            v = _need(w, key, where, list)
            if not v or not all(isinstance(x, str) for x in v):
                raise ProfileError(f"{where}.{key} must be a non-empty list of text, found {v!r}")
    codes = _lab_codes()
    for code in w.get("lab", ()):
        if code not in codes:
            raise ProfileError(f"{where}.lab {code!r} is not a lab test code of the catalogue")
    if "min_grade" in w:
        _number(w, "min_grade", where, 1, 5, integer=True)
    if "min_value" in w:
        _number(w, "min_value", where, 0, lo_open=True)
        if "lab" not in w:
            raise ProfileError(f"{where}.min_value needs lab")
    if not any(k in w for k in ("min_grade", "min_value", "x_uln_above", "x_uln_at_least")):
        raise ProfileError(f"{where} needs min_grade or min_value (or x_uln_above, x_uln_at_least)")
    if has_ae and "min_grade" not in w:
        raise ProfileError(f"{where}.ae_terms needs min_grade")
    if "immune_related" in w:
        _need(w, "immune_related", where, bool)
    safety_rules.check_when_extra(w, where, _number)


_RECIST_KEYS = {  # key -> (lowest, highest, integer, lowest excluded)
    "baseline_max_days": (0, None, True, False), "max_targets": (1, None, True, False),
    "max_targets_per_organ": (1, None, True, False), "pr_decrease_pct": (0, 100, False, True),
    "pd_increase_pct": (0, None, False, True), "pd_min_increase_mm": (0, None, False, False),
    "node_normal_mm": (0, None, False, True), "confirm_min_days": (0, None, True, False),
    "confirm_max_ne": (0, None, True, False), "sd_min_days": (0, None, True, False),
    "measurable_min_mm": (0, None, False, True), "slice_max_mm": (0, None, False, True),
    "node_target_min_mm": (0, None, False, True), "cr_marker_window_days": (0, None, True, False),
}
_IRECIST_KEYS = {"confirm_min_days": (0, None, True, False), "confirm_max_days": (0, None, True, False),
                 "further_increase_mm": (0, None, False, False), "new_target_max": (1, None, True, False),
                 "new_target_max_per_organ": (1, None, True, False)}
_MRECIST_KEYS = {"min_viable_mm": (0, None, False, False), "pr_decrease_pct": (0, 100, False, True),
                 "pd_increase_pct": (0, None, False, True), "pd_min_increase_mm": (0, None, False, False)}


def _check_response_reads(data: dict) -> tuple:
    """[irecist] and [mrecist]: optional tables (absent = that read is not made); when present every
    key is a number in its range, with a source."""
    out = []
    for name, keys in (("irecist", _IRECIST_KEYS), ("mrecist", _MRECIST_KEYS)):
        t = data.get(name)
        if t is None:
            out.append({})
            continue
        if not isinstance(t, dict):
            raise ProfileError(f"{name} must be a table")
        for key, (lo, hi, integer, lo_open) in keys.items():
            _number(t, key, name, lo, hi, lo_open=lo_open, integer=integer)
        _need(t, "source", name, str)
        out.append(dict(t))
    if out[0] and out[0]["confirm_max_days"] < out[0]["confirm_min_days"]:
        raise ProfileError("irecist.confirm_max_days must be >= irecist.confirm_min_days")
    return tuple(out)


# Keys added for issues 16 / 11 (measurability, markers for a CR). RECIST 1.1 fixes their values
# (section 3.1.1; sections 4.3.3 / 4.4), so a profile written before them gets these, stated here.
_RECIST_DEFAULTS = {"measurable_min_mm": 10, "slice_max_mm": 5, "node_target_min_mm": 15,
                    "cr_markers": [], "cr_marker_window_days": 14}   # no markers named: none checked


def _check_recist(r: dict) -> dict:
    """[recist]: RECIST 1.1 thresholds and windows, each a number in its range, and a source."""
    r = {**_RECIST_DEFAULTS, **r}
    for key, (lo, hi, integer, lo_open) in _RECIST_KEYS.items():
        _number(r, key, "recist", lo, hi, lo_open=lo_open, integer=integer)
    _need(r, "source", "recist", str)
    cm = _need(r, "cr_markers", "recist", list)
    codes = _lab_codes()
    for code in cm:
        if code not in codes:
            raise ProfileError(f"recist.cr_markers {code!r} is not a lab test code of the catalogue")
    return dict(r)


def bundled_profiles() -> dict:
    """Bundled profile name -> resource path: the seed study, and the example studies of
    monitor/profile/examples/ (e.g. cdisc_pilot)."""
    out = {}
    root = resources.files("monitor.profile")
    for folder in (root, root.joinpath("examples")):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            if p.name.endswith(".toml"):
                out.setdefault(p.name[:-5], p)
    return out


def load_profile(source: str | Path | None = None) -> Profile:
    """Load a bundled profile by name, or a TOML file by path; default: the seed study. A bundled
    one comes from the package's precompiled copy when it is current (monitor.refcache): a fresh
    Profile each call, equal to the one parsed from its file."""
    source = source or DEFAULT_PROFILE
    bundled = bundled_profiles()
    if str(source) in bundled:
        from .. import refcache

        return refcache.get(f"profile:{source}", lambda: _build_bundled(str(source), bundled))
    p = Path(source)
    if not p.is_file():
        raise ProfileError(f"{source}: no such profile file, and not a bundled profile "
                           f"({', '.join(sorted(bundled))})")
    return _parse_text(p.read_text("utf-8"), str(p))


def _build_bundled(name: str, bundled: dict | None = None) -> Profile:
    """A bundled profile parsed from its file (never from the precompiled copy)."""
    res = (bundled or bundled_profiles())[name]
    return _parse_text(res.read_text("utf-8"), f"bundled:{name}")


def _parse_text(text: str, path: str) -> Profile:
    try:
        data = tomldata.loads(text)
    except tomldata.TOMLDecodeError as e:
        raise ProfileError(f"{path}: not valid TOML: {e}") from None
    try:
        return parse_profile(data, path)
    except ProfileError as e:
        raise ProfileError(f"{path}: {e}") from None

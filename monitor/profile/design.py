"""The study design of a profile: drugs (placebo included), arms with the drugs and dose levels
of each, dose changes by cycle, cyclic or continuous dosing, and which optional sections the
study has.

    [[drugs]]   name, aliases, unit, route, source; `dose` (> 0), or `doses` (steps by cycle),
                or neither when every arm gives the drug's dose; `placebo = true` allows dose 0
                (and is the default dose of a placebo).
    [[arms]]    name, aliases, source, drugs = [{ drug = "...", dose = 54 }
                or { drug = "...", doses = [{ from_cycle = 1, dose = 54 }, { from_cycle = 2, dose = 81 }] }
                or { drug = "..." } for the drug's own dose]. An arm with `drugs = []` is not
                treated (screen failures). Without [[arms]] every subject gets every drug.
    [schedule]  dosing = "cycles" (default) needs cycle_days; dosing = "continuous" (a daily patch
                or tablet) has no cycle length: each Cycles row is a dosing period from its Date
                to its End date. Every other key is optional; a rule that needs an absent key is
                "not evaluated" with the reason.

A study without tumour assessments, markers, weight-based doses or hold rules leaves the
section out; its rules do not run and its report sections are not drawn (Profile.has).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass


class DesignError(Exception):
    """Raised with the key path; profile.py re-raises it as ProfileError."""


@dataclass(frozen=True)
class DoseStep:
    """A planned dose from one cycle on (a dose-escalation or step-down step)."""

    from_cycle: int
    dose: float


@dataclass(frozen=True)
class ArmDrug:
    """One drug of an arm, with its planned dose steps."""

    drug: str
    steps: tuple[DoseStep, ...]      # sorted by from_cycle, the first from cycle 1

    def dose_at(self, cycle: int | None) -> float | None:
        """The planned dose in `cycle` (None when the cycle is unknown and the dose changes)."""
        if cycle is None:
            levels = {s.dose for s in self.steps}
            return levels.pop() if len(levels) == 1 else None
        best = None
        for s in self.steps:
            if s.from_cycle <= cycle:
                best = s.dose
        return best

    @property
    def levels(self) -> tuple[float, ...]:
        return tuple(sorted({s.dose for s in self.steps}))


@dataclass(frozen=True)
class Arm:
    """One arm of the study design: its name, aliases and drugs."""

    name: str
    aliases: tuple[str, ...]
    drugs: tuple[ArmDrug, ...]
    source: str = ""

    @property
    def drug_names(self) -> tuple[str, ...]:
        return tuple(d.drug for d in self.drugs)

    def drug(self, name: str) -> ArmDrug | None:
        return next((d for d in self.drugs if d.drug == name), None)


def norm(text) -> str:
    return re.sub(r"[^0-9a-z]+", "", str(text).lower())


def _num(v, where: str, *, placebo: bool) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise DesignError(f"{where} must be a number, found {v!r}")
    if v < 0 or (v == 0 and not placebo):
        raise DesignError(f"{where} must be > 0{' (0 only for a drug with placebo = true)' if not placebo else ''}"
                          f", found {v!r}")
    return float(v)


def parse_steps(d: dict, where: str, *, placebo: bool, required: bool) -> tuple[DoseStep, ...]:
    """`dose = 54` or `doses = [{ from_cycle = 1, dose = 54 }, ...]` of a table -> steps."""
    if "dose" in d and "doses" in d:
        raise DesignError(f"{where}: give dose or doses, not both")
    if "dose" in d:
        return (DoseStep(1, _num(d["dose"], f"{where}.dose", placebo=placebo)),)
    if "doses" not in d:
        if placebo:
            return (DoseStep(1, 0.0),)
        if required:
            raise DesignError(f"{where}.dose is missing (or doses, or a dose in every arm that lists it)")
        return ()
    raw = d["doses"]
    if not isinstance(raw, list) or not raw:
        raise DesignError(f"{where}.doses must be a non-empty list of {{ from_cycle, dose }} tables")
    steps = []
    for i, s in enumerate(raw):
        w = f"{where}.doses[{i}]"
        if not isinstance(s, dict):
            raise DesignError(f"{w} must be a table {{ from_cycle = 1, dose = 54 }}")
        fc = s.get("from_cycle")
        if isinstance(fc, bool) or not isinstance(fc, int) or fc < 1:
            raise DesignError(f"{w}.from_cycle must be a whole number >= 1, found {fc!r}")
        steps.append(DoseStep(fc, _num(s.get("dose"), f"{w}.dose", placebo=placebo)))
    steps.sort(key=lambda s: s.from_cycle)
    if steps[0].from_cycle != 1:
        raise DesignError(f"{where}.doses must start at from_cycle = 1, found {steps[0].from_cycle}")
    if len({s.from_cycle for s in steps}) != len(steps):
        raise DesignError(f"{where}.doses repeats a from_cycle")
    return tuple(steps)


def parse_arms(data: dict, drugs: dict) -> tuple[Arm, ...]:
    """[[arms]] -> Arms. `drugs`: name -> (placebo, steps of the drug itself)."""
    raw = data.get("arms")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(a, dict) for a in raw):
        raise DesignError("arms must be a list of [[arms]] tables")
    arms, seen = [], {}
    for i, a in enumerate(raw):
        where = f"arms[{i}]"
        name = a.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DesignError(f"{where}.name is missing")
        aliases = a.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(x, str) for x in aliases):
            raise DesignError(f"{where}.aliases must be a list of text")
        for n in (name, *aliases):
            if norm(n) in seen and seen[norm(n)] != name:
                raise DesignError(f"{where}.aliases: {n!r} already names arm {seen[norm(n)]}")
            seen[norm(n)] = name
        if "drugs" not in a:
            raise DesignError(f"{where}.drugs is missing (a list; [] for an arm that is not treated)")
        if not isinstance(a["drugs"], list):
            raise DesignError(f"{where}.drugs must be a list of {{ drug = ..., dose = ... }} tables")
        ads = []
        for j, ad in enumerate(a["drugs"]):
            w = f"{where}.drugs[{j}]"
            if isinstance(ad, str):
                ad = {"drug": ad}
            if not isinstance(ad, dict) or not isinstance(ad.get("drug"), str):
                raise DesignError(f"{w} must name a drug: {{ drug = \"...\" }}")
            if ad["drug"] not in drugs:
                raise DesignError(f"{w}.drug {ad['drug']!r} is not one of the profile's drugs "
                                  f"({', '.join(sorted(drugs))})")
            placebo, own = drugs[ad["drug"]]
            steps = parse_steps(ad, w, placebo=placebo, required=False) if ("dose" in ad or "doses" in ad) else own
            if not steps:
                raise DesignError(f"{w}: no dose for {ad['drug']} (give dose here or in [[drugs]])")
            if any(x.drug == ad["drug"] for x in ads):
                raise DesignError(f"{w}.drug {ad['drug']!r} is listed twice in the arm")
            ads.append(ArmDrug(ad["drug"], steps))
        arms.append(Arm(name, tuple(aliases), tuple(ads), str(a.get("source", ""))))
    return tuple(arms)


SCHEDULE_NUMBERS = {  # key -> (lowest, integer, lowest excluded)
    "cycle_days": (0, True, True), "window_days": (0, False, False), "predose_lab_days": (0, False, False),
    "dose_tolerance_pct": (0, False, False), "weight_change_pct": (0, False, True),
}


def check_schedule(sched: dict) -> dict:
    """[schedule]: dosing "cycles" (needs cycle_days) or "continuous"; every other key optional."""
    dosing = sched.get("dosing", "cycles")
    if dosing not in ("cycles", "continuous"):
        raise DesignError(f"schedule.dosing must be 'cycles' or 'continuous', found {dosing!r}")
    for k, (lo, integer, lo_open) in SCHEDULE_NUMBERS.items():
        if k not in sched:
            continue
        v = sched[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise DesignError(f"schedule.{k} must be a number, found {v!r}")
        if v < lo or (lo_open and v == lo):
            raise DesignError(f"schedule.{k} must be {'>' if lo_open else '>='} {lo}, found {v!r}")
        if integer and not float(v).is_integer():
            raise DesignError(f"schedule.{k} must be a whole number, found {v!r}")
    if dosing == "cycles" and "cycle_days" not in sched:
        raise DesignError("schedule.cycle_days is missing (or set dosing = \"continuous\" for daily dosing "
                          "without cycles)")
    if dosing == "continuous" and "cycle_days" in sched:
        raise DesignError("schedule.cycle_days is set but dosing is \"continuous\" (no cycles): remove one")
    out = dict(sched)
    out["dosing"] = dosing
    return out


# Top-level tables a profile may have. An unknown table close to one of these is a typo that
# would silently turn its rules off: an error naming the table it resembles.
KNOWN_TABLES = ("profile", "schedule", "safety", "drugs", "arms", "markers", "hold_rules", "recist",
                "lab_ae_terms", "irecist", "mrecist", "ae_groups", "dose_reduction", "steroids")
OPTIONAL_TABLES = ("arms", "markers", "hold_rules", "recist", "lab_ae_terms")


def check_table_names(data: dict) -> None:
    for key in data:
        if key in KNOWN_TABLES:
            continue
        close = [t for t in OPTIONAL_TABLES if t in key or key in t]
        close += difflib.get_close_matches(key, OPTIONAL_TABLES, n=1, cutoff=0.75)
        if close:
            raise DesignError(f"profile file.{key} is not a known table; did you mean [{close[0]}]? "
                              f"(a study without [{close[0]}] leaves it out and its rules do not run)")

"""The NCI CTCAE v5.0 term table (terms.csv, 837 rows, verbatim from NCI's CTCAE_v5.0.xlsx)."""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from .. import tomldata


def norm_term(text: str) -> str:
    """Lower case, runs of white space (any Unicode space, e.g. non-breaking) as one space, none
    at either end. str.split() splits on exactly what `re`'s \\s matches (str.isspace): the
    same as re.sub(r"\\s+", " ", ...) of the stripped text, at a third of the cost (~3,000
    calls a check; tests/test_ctcae_terms_meddra.py pins it)."""
    return " ".join(str(text).lower().split())


@dataclass(frozen=True)
class Term:
    """One CTCAE v5.0 term: its system organ class, the grades it defines and each grade's
    criteria text."""

    soc: str
    term: str
    grades: tuple[int, ...]      # grades CTCAE v5.0 defines for the term ("-" cells are absent)
    text: dict                    # grade -> verbatim criteria text


@dataclass(frozen=True)
class Terms:
    """The CTCAE v5.0 term table, found by normalised term, common synonym or MedDRA preferred
    term."""

    by_norm: dict                 # normalised term -> Term
    synonyms: dict = None         # normalised common name -> [CTCAE terms] (synonyms.toml)
    meddra: dict = None           # normalised MedDRA preferred term -> [CTCAE terms] (meddra_pt.toml)
    _series: dict = field(default_factory=dict, compare=False, repr=False)   # defined_grades, built once

    def __len__(self) -> int:
        return len(self.by_norm)

    def defined_grades(self) -> tuple:
        """normalised term -> its defined grades as text ("1,2,3"), as replace_strict's (old, new)
        Series: built on first use and kept (AE008 reads it in every check; the dict and its
        Series took ~1 ms)."""
        if "grades" not in self._series:
            import polars as pl

            from ..frames import mapping_series

            self._series["grades"] = mapping_series(
                {k: ",".join(str(g) for g in t.grades) for k, t in self.by_norm.items()}, pl.String)
        return self._series["grades"]

    def get(self, text: str | None) -> Term | None:
        return None if text is None else self.by_norm.get(norm_term(text))

    def closest(self, text: str, n: int = 3) -> list[str]:
        """Terms to suggest: the CTCAE terms of a MedDRA preferred term (Pyrexia -> Fever), then
        the curated synonyms (immune hepatitis -> Hepatobiliary disorders - Other, specify), else
        the closest terms by spelling (difflib ratio)."""
        key = norm_term(text)
        syn = (self.meddra or {}).get(key) or (self.synonyms or {}).get(key)
        if syn:
            return list(syn[:n])
        keys = difflib.get_close_matches(norm_term(text), list(self.by_norm), n=n, cutoff=0.6)
        if not keys:  # word order or extra words: compare with a looser cut-off
            keys = difflib.get_close_matches(norm_term(text), list(self.by_norm), n=n, cutoff=0.4)
        return [self.by_norm[k].term for k in keys]

    def for_preferred_term(self, pt: str, soc: str | None = None) -> str | None:
        """The CTCAE v5.0 term to record for a MedDRA preferred term: the PT itself when it is a
        CTCAE term, else its first MedDRA synonym, else '<SOC> - Other, specify' of its system
        organ class (None when the SOC has none)."""
        t = self.get(pt)
        if t is not None:
            return t.term
        syn = (self.meddra or {}).get(norm_term(pt))
        if syn:
            return syn[0]
        return self.other_specify(soc) if soc else None

    def other_specify(self, soc: str) -> str | None:
        """'<SOC> - Other, specify' of a system organ class (MedDRA SOC names, any case)."""
        want = norm_term(soc)
        for t in self.by_norm.values():
            if norm_term(t.soc) == want and t.term.endswith("Other, specify"):
                return t.term
        return None

    def names(self) -> list[str]:
        return [t.term for t in self.by_norm.values()]


@lru_cache(maxsize=1)
def load_terms() -> Terms:
    """The CTCAE v5.0 terms with the curated synonyms and MedDRA preferred terms (cached; from
    the package's precompiled copy when it is current: monitor.refcache)."""
    from .. import refcache

    return refcache.get("terms", _build_terms)


def _build_terms() -> Terms:
    text = resources.files("monitor.ctcae").joinpath("terms.csv").read_text("utf-8")
    rows = csv.reader(io.StringIO(text, newline=""))   # by position: half the time of a DictReader
    head = next(rows)
    soc, term, grade_cols = head.index("soc"), head.index("term"), [(g, head.index(f"grade_{g}")) for g in range(1, 6)]
    out = {}
    for row in rows:
        if not row:
            continue
        texts = {g: row[i] for g, i in grade_cols if row[i].strip()}   # grades CTCAE defines, in order
        out[norm_term(row[term])] = Term(row[soc], row[term], tuple(texts), texts)
    syn = tomldata.loads(resources.files("monitor.ctcae").joinpath("synonyms.toml").read_text("utf-8"))
    synonyms = {norm_term(k): tuple(v) for k, v in syn["synonyms"].items()}
    pts = tomldata.loads(resources.files("monitor.ctcae").joinpath("meddra_pt.toml").read_text("utf-8"))
    meddra = {norm_term(k): tuple(v) for k, v in pts["preferred_terms"].items()}
    return Terms(out, synonyms, meddra)

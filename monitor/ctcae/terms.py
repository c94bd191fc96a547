"""The NCI CTCAE v5.0 term table (terms.csv, 837 rows, verbatim from NCI's CTCAE_v5.0.xlsx)."""

from __future__ import annotations

import csv
import difflib
import io
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources


def norm_term(text: str) -> str:
    return re.sub(r"\s+", " ", str(text).strip().lower().replace("\u00a0", " "))


@dataclass(frozen=True)
class Term:
    soc: str
    term: str
    grades: tuple[int, ...]      # grades CTCAE v5.0 defines for the term ("-" cells are absent)
    text: dict                    # grade -> verbatim criteria text


@dataclass(frozen=True)
class Terms:
    by_norm: dict                 # normalised term -> Term
    synonyms: dict = None         # normalised common name -> [CTCAE terms] (synonyms.toml)

    def __len__(self) -> int:
        return len(self.by_norm)

    def get(self, text: str | None) -> Term | None:
        return None if text is None else self.by_norm.get(norm_term(text))

    def closest(self, text: str, n: int = 3) -> list[str]:
        """Terms to suggest: the curated synonyms first (immune hepatitis -> Hepatobiliary
        disorders - Other, specify), else the closest terms by spelling (difflib ratio)."""
        syn = (self.synonyms or {}).get(norm_term(text))
        if syn:
            return list(syn[:n])
        keys = difflib.get_close_matches(norm_term(text), list(self.by_norm), n=n, cutoff=0.6)
        if not keys:  # word order or extra words: compare with a looser cut-off
            keys = difflib.get_close_matches(norm_term(text), list(self.by_norm), n=n, cutoff=0.4)
        return [self.by_norm[k].term for k in keys]

    def names(self) -> list[str]:
        return [t.term for t in self.by_norm.values()]


@lru_cache(maxsize=1)
def load_terms() -> Terms:
    text = resources.files("monitor.ctcae").joinpath("terms.csv").read_text("utf-8")
    out = {}
    for row in csv.DictReader(io.StringIO(text, newline="")):
        grades = tuple(g for g in range(1, 6) if row[f"grade_{g}"].strip())
        out[norm_term(row["term"])] = Term(row["soc"], row["term"], grades,
                                           {g: row[f"grade_{g}"] for g in grades})
    syn = tomllib.loads(resources.files("monitor.ctcae").joinpath("synonyms.toml").read_text("utf-8"))
    synonyms = {norm_term(k): tuple(v) for k, v in syn["synonyms"].items()}
    return Terms(out, synonyms)

"""What, beside a workbook's bytes, decides its outputs: the skip key of `monitor batch`.

A workbook is skipped only when its bytes *and* this key are those of its last check. The key
hashes the profile's content, the size and resource limits, the tool version and the package's
own code and data: every `.py`, `.toml`, `.csv`, `.json`, template and stylesheet under
`monitor/` (rules, CTCAE criteria, the lab catalogue ...) and the report and batch-summary
templates (top-level `templates/`, or `monitor/templates/` when installed). A changed rule,
threshold or catalogue entry therefore re-checks every workbook even when the version number
was not raised. Hashing the package costs a few milliseconds (about 1 MB of files), once per
process.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from .. import __version__

PACKAGE = Path(__file__).resolve().parents[1]
CODE_SUFFIXES = (".py", ".toml", ".csv", ".json", ".j2", ".html", ".css", ".svg")


@lru_cache(maxsize=4)
def code_sha256(root: Path = PACKAGE) -> str:
    """SHA-256 over the package's code and data files (relative path and content of each)."""
    h = hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.suffix in CODE_SUFFIXES and p.is_file()
                   and "__pycache__" not in p.parts)
    for p in files:
        h.update(p.relative_to(root).as_posix().encode("utf-8") + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def profile_sha256(profile) -> str:
    """The profile's content (parsed TOML, so comments and layout do not count) and name."""
    raw = json.dumps({"name": profile.name, "raw": getattr(profile, "raw", {})}, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def templates_sha256() -> str:
    """SHA-256 over the report and batch-summary templates, wherever they are installed."""
    from ..assets import templates_dir

    return code_sha256(templates_dir())


def config_key(profile_hash: str, max_unpacked_mb: float, code_hash: str | None = None) -> str:
    """The skip key: profile content, tool version, the package's code and data, size limit."""
    raw = json.dumps({"profile": profile_hash, "tool_version": __version__,
                      "code": code_hash if code_hash is not None else code_sha256() + templates_sha256(),
                      "max_unpacked_mb": float(max_unpacked_mb)}, sort_keys=True)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]

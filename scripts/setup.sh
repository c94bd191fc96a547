#!/usr/bin/env bash
# Set up the project on a fresh machine: system packages, then .venv with pinned packages.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages (Debian): pango for WeasyPrint's PDF reports, harfbuzz-subset so WeasyPrint
# subsets fonts in C (its fontTools fallback costs ~0.3 s per document and is deprecated), fonts
# with CJK coverage, poppler-utils to look at rendered pages. Installed only when missing.
need=()
for pkg in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-noto-cjk poppler-utils; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "setup: installing system packages: ${need[*]}"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -c requirements.lock -e ".[test]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# the reference data (CTCAE terms, lab catalogue, criteria, bundled profiles) precompiled for this
# checkout's code and data (monitor/refcache.py): ~35 ms less of every command; an edit since makes
# the copy unused (never wrong) until this runs again
.venv/bin/python -m monitor.refcache >/dev/null \
  || echo "setup: could not precompile the reference data (each command then starts ~30 ms slower)" >&2

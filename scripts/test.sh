#!/usr/bin/env bash
# Set up, then run the whole test suite (slow end-to-end cases included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# Test-only system packages, installed only when missing:
# - Debian's Chromium for the browser tests of `monitor serve` (tests/test_web_*.py drive it with
#   Playwright; no browser is ever downloaded);
# - LibreOffice (headless, no GUI), which opens the annotated copy in tests/test_annotate_package.py:
#   the check that another spreadsheet reads what we write.
need=()
for pkg in chromium libreoffice-calc-nogui; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "test: installing system packages: ${need[*]}"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Here these tests must run: a missing browser or LibreOffice fails them instead of skipping them.
export MONITOR_REQUIRE_BROWSER=1
export MONITOR_REQUIRE_SOFFICE=1

exec .venv/bin/python -m pytest -q "$@"

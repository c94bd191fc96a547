#!/usr/bin/env bash
# Set up, then run the whole test suite (slow end-to-end cases included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# Test-only system packages: LibreOffice (headless, no GUI) opens the annotated copy in
# tests/test_annotate_package.py, the check that another spreadsheet reads what we write.
# Installed only when missing; MONITOR_REQUIRE_SOFFICE makes that test fail, not skip, without it.
need=()
for pkg in libreoffice-calc-nogui; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "test: installing system packages: ${need[*]}"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
export MONITOR_REQUIRE_SOFFICE=1

exec .venv/bin/python -m pytest -q "$@"

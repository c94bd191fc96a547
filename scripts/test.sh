#!/usr/bin/env bash
# Set up, then run the whole test suite (slow end-to-end cases included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# Test-only system packages: Debian's Chromium for the browser tests of `monitor serve`
# (tests/test_web_*.py drive it with Playwright; no browser is ever downloaded). Installed only
# when missing.
if ! dpkg -s chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "test: installing system packages: chromium"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
# Here the browser tests must run: a missing browser fails them instead of skipping them.
export MONITOR_REQUIRE_BROWSER=1

exec .venv/bin/python -m pytest -q "$@"

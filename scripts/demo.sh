#!/usr/bin/env bash
# Set up, then run the monitor on the sample workbooks (check, annotate, PDF report); everything
# lands in output/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# check, annotate and report (PDF) every sample workbook, plus the empty template, into output/
exec .venv/bin/monitor demo

#!/usr/bin/env bash
# Set up, then run the monitor on the sample workbooks; everything lands in output/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
M=.venv/bin/monitor
mkdir -p output
$M template output/site-workbook-template.xlsx
for wb in sample_sheets/*.xlsx; do
  stem=$(basename "$wb" .xlsx)
  echo
  echo "=== $wb"
  # exit code 1 means "findings at or above --fail-on": expected for the samples
  $M check "$wb" --out "output/$stem" || [ $? -eq 1 ]
  $M annotate "$wb" --out "output/$stem/$stem-annotated.xlsx"
done
echo
echo "demo: outputs are in output/ (findings.json, findings.csv and annotated copies per workbook)"

#!/usr/bin/env bash
# Set up the environment and colorize the bundled sample clip with the embedded model.
# Writes dacon_demo_out/ (colored frames, JSON records, contact_sheet.png).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh
.venv/bin/dacon demo --out "${1:-dacon_demo_out}"

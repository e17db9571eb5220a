#!/usr/bin/env bash
# Set up the environment and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh
.venv/bin/python -m pytest -q "$@"

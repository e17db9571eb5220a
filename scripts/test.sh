#!/usr/bin/env bash
# Set up the environments and run the whole test suite:
#   1. the engine's tests in .venv (extra arguments go to this pytest run only),
#   2. the Blender add-on's static check (mypy against fake-bpy-module 4.2 and 5.0 stubs),
#   3. the add-on's tests in real Blender: bpy 4.2.23, 4.5.15 and 5.0.1 (scripts/test_blender.sh).
# Every step runs even when an earlier one fails; the exit status is non-zero if any failed.
# With arguments, or DACON_SKIP_BLENDER=1, only step 1 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh
status=0
.venv/bin/python -m pytest -q "$@" || status=$?
if [ $# -gt 0 ] || [ -n "${DACON_SKIP_BLENDER:-}" ]; then
    exit $status
fi
scripts/check_addon_types.sh || status=1
scripts/test_blender.sh || status=1
exit $status

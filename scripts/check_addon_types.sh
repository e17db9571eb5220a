#!/usr/bin/env bash
# Static check of dacon_blender_addon/ with mypy against fake-bpy-module stubs of Blender 4.2 and 5.0.
# Usage: scripts/check_addon_types.sh [4.2 5.0 ...]   (cached venvs .venv-stubs42, .venv-stubs50)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(4.2 5.0)
status=0
for ver in "${versions[@]}"; do
    venv=".venv-stubs${ver/./}"
    stamp="$venv/.dacon-stubs-$ver"
    if [ ! -f "$stamp" ]; then
        rm -rf "$venv"
        "$PY" -m venv "$venv"
        "$venv/bin/python" -m pip install -q "mypy>=1.10" "fake-bpy-module-$ver" 2>&1 \
            | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
        "$venv/bin/python" -c "import mypy" && touch "$stamp"
    fi
    echo "mypy dacon_blender_addon against fake-bpy-module-$ver"
    "$venv/bin/python" -m mypy --no-incremental --cache-dir=/dev/null \
        --config-file scripts/mypy_addon.ini dacon_blender_addon || status=1
done
exit $status

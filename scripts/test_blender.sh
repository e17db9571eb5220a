#!/usr/bin/env bash
# Run the add-on tests (tests/blender) in real Blender, one cached bpy venv per version.
# Usage: scripts/test_blender.sh [BPY_VERSION ...]   (default: 4.2.23 4.5.15 5.0.1)
# A version whose Python is missing here (5.1+ needs python3.13) is skipped with a message.
# Builds the extension zip once (scripts/build_extension.py) and shares it between versions.
set -euo pipefail
cd "$(dirname "$0")/.."
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(4.2.23 4.5.15 5.0.1)
quiet_pip() { grep -v "is ignored: it is neither a file nor a directory" >&2 || true; }

venvs=()
for ver in "${versions[@]}"; do
    rc=0
    venv=$(scripts/setup_bpy_env.sh "$ver" 2> >(quiet_pip)) || rc=$?
    if [ $rc -eq 3 ]; then
        echo "bpy $ver: SKIPPED (no suitable Python on this machine)"
        venvs+=("")
    elif [ $rc -ne 0 ]; then
        echo "bpy $ver: could not set up its venv" >&2
        exit $rc
    else
        venvs+=("$venv")
    fi
done

dist=$(mktemp -d "${TMPDIR:-/tmp}/dacon-ext-XXXXXX")
trap 'rm -rf "$dist"' EXIT
python3 scripts/build_extension.py --out "$dist" >/dev/null
export DACON_EXTENSION_ZIP=$(ls "$dist"/*.zip)

status=0
for i in "${!versions[@]}"; do
    ver=${versions[$i]} venv=${venvs[$i]}
    [ -n "$venv" ] || continue
    echo "== add-on tests in bpy $ver ($venv)"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider --confcutdir=tests/blender \
        tests/blender || status=1
done
exit $status

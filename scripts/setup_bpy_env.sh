#!/usr/bin/env bash
# Create (or reuse) a cached venv with Blender as a Python module (PyPI bpy) for the add-on tests.
# Usage: scripts/setup_bpy_env.sh VERSION      (e.g. 4.2.23, 4.5.15, 5.0.1, 5.2.3)
# Prints the venv's directory on stdout (e.g. .venv-bpy42). Exit status 3: no suitable Python here.
# The engine itself is NOT installed: the add-on needs only dacon_engine.client/protocol (stdlib),
# which the tests take from the source tree or from the extension zip's bundled wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
ver=${1:?usage: setup_bpy_env.sh BPY_VERSION}
IFS=. read -r major minor _ <<<"$ver"
venv=".venv-bpy${major}${minor}"
extra=()
if [ "$major" -ge 6 ] || { [ "$major" -eq 5 ] && [ "$minor" -ge 1 ]; }; then
    # Blender 5.1+ embeds Python 3.13; there is no cp311 wheel.
    py=${PYTHON313:-$HOME/.pyenv/versions/3.13.0/bin/python3.13}
else
    py=${PYTHON311:-python3}
fi
if [ "$major" -eq 4 ] && [ "$minor" -le 2 ]; then
    extra+=("numpy<2")   # bpy 4.2 leaves numpy unpinned; Blender 4.2 ships numpy 1.26
fi
if ! command -v "$py" >/dev/null 2>&1; then
    echo "setup_bpy_env: no Python for bpy $ver ($py not found)" >&2
    exit 3
fi
stamp="$venv/.dacon-bpy-$ver"
if [ ! -f "$stamp" ]; then
    rm -rf "$venv"
    "$py" -m venv "$venv" >&2
    "$venv/bin/python" -m pip install -q "bpy==$ver" "${extra[@]}" "pytest>=8" >&2
    touch "$stamp"
fi
# the render tests decode Blender's PNGs with Pillow (an independent reader)
"$venv/bin/python" -c "import PIL" 2>/dev/null || "$venv/bin/python" -m pip install -q "pillow>=10" >&2
echo "$venv"

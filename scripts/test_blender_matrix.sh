#!/usr/bin/env bash
# The add-on tests in every Blender we support: 4.2 LTS, 4.5 LTS, 5.0 and, where
# ~/.pyenv/versions/3.13.0/bin/python3.13 (or $PYTHON313) exists, 5.2 (Python 3.13).
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/test_blender.sh 4.2.23 4.5.15 5.0.1 5.2.3

#!/usr/bin/env bash
# Hash what the engine writes for a fixed set of jobs, to show a refactor changed no output.
#   scripts/output_hashes.sh WORKDIR > manifest.txt      (run before and after; diff the two)
# Jobs: the demo; synthetic shots in the three modes (PNG + EXR + JSON, palette, trace and line
# colors, gap closing, contact sheet); segment; review; recolor; and PaintBucket 0242 when
# ../shared/data/paintbucket_0242 exists. JSON fields that hold times or paths are dropped.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-$here/.venv/bin/python}"
w="$1"; rm -rf "$w"; mkdir -p "$w"
dacon() { "$py" -c 'import sys; from dacon_engine.jobs.cli import main; sys.exit(main())' "$@" 2>/dev/null \
  || "$py" -c 'import sys; from dacon_engine.cli import main; sys.exit(main())' "$@"; }
dacon demo --out "$w/demo" >/dev/null
dacon synth --out "$w/synth" --clips 1 --frames 5 --size 256 --seed 7 >/dev/null
clip="$(ls -d "$w"/synth/*/ | head -1)"
for mode in keyframe consecutive nearest; do
  dacon colorize "$clip" --out "$w/$mode" --mode "$mode" --format png,exr --quiet --device cpu >/dev/null
done
dacon colorize "$clip" --out "$w/opts" --gap-radius 2 --line-mode adaptive --trace-color red \
  --line-color brown --no-graph-refine --no-mirror --contact-sheet --quiet --device cpu >/dev/null
dacon palette "$clip/ref" --out "$w/pal.json" >/dev/null 2>&1 || true
if [ -f "$w/pal.json" ]; then
  dacon colorize "$clip" --out "$w/palette" --palette "$w/pal.json" --format png,exr --quiet --device cpu >/dev/null
fi
dacon segment "$clip/line" --out "$w/seg" >/dev/null
dacon review "$w/keyframe" --out "$w/review" >/dev/null 2>&1 || true
pb="$here/../shared/data/paintbucket_0242"
if [ -d "$pb" ]; then
  dacon colorize "$pb/line.png" --ref "$pb/gt.png" --ref-line "$pb/line.png" --out "$w/pb" \
    --format png,exr --quiet --device cpu >/dev/null
  dacon segment "$pb/line.png" --out "$w/pbseg" >/dev/null
fi
cd "$w"
find . -type f ! -name '*.json' -print0 | sort -z | xargs -0 sha256sum
find . -type f -name '*.json' -print0 | sort -z | while IFS= read -r -d '' f; do
  "$py" - "$f" <<'PY'
import hashlib, json, sys
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if not any(s in k for s in ("time", "seconds", "path", "_at", "dir", "file", "version", "elapsed", "host", "pid"))}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
d = strip(json.load(open(sys.argv[1])))
print(hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest(), " ", sys.argv[1], "(json, times/paths dropped)")
PY
done

#!/usr/bin/env bash
# Hash what the engine writes for a fixed set of jobs, to show a refactor changed no output.
#   scripts/output_hashes.sh WORKDIR > manifest.txt      (run before and after; diff the two)
# Jobs: the demo; synthetic shots in the three modes (PNG + EXR + JSON, palette, trace and line
# colors, gap closing, contact sheet); segment; review; and PaintBucket 0242 when
# ../shared/data/paintbucket_0242 exists. Use the same WORKDIR for both runs: outputs name
# their inputs' paths. JSON fields that hold times are dropped, the checkout's path masked.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
py="${PYTHON:-$here/.venv/bin/python}"
w="$1"; rm -rf "$w"; mkdir -p "$w"
dacon() { "$py" -c 'import sys; from dacon_engine.jobs.cli import main; sys.exit(main())' "$@"; }
dacon demo --out "$w/demo" >/dev/null
dacon synth --out "$w/synth" --clips 1 --frames 5 --size 256 --seed 7 >/dev/null
clip="$(ls -d "$w"/synth/*/ | head -1)"
for mode in keyframe consecutive nearest; do
  dacon colorize "$clip" --out "$w/$mode" --mode "$mode" --format png,exr --quiet --device cpu >/dev/null
done
dacon colorize "$clip" --out "$w/opts" --gap-radius 2 --line-mode adaptive --trace-color red \
  --line-color brown --no-graph-refine --no-mirror --contact-sheet --quiet --device cpu >/dev/null
dacon palette "$clip/ref/gt" --out "$w/pal.json" >/dev/null
if [ -f "$w/pal.json" ]; then
  dacon colorize "$clip" --out "$w/palette" --palette "$w/pal.json" --format png,exr --quiet --device cpu >/dev/null
fi
dacon segment "$clip/line" --out "$w/seg" >/dev/null
dacon review "$w/keyframe" --review-dir "$w/review" --threshold 0.9 >/dev/null
pb="$here/../shared/data/paintbucket_0242"
if [ -d "$pb" ]; then
  mkdir -p "$w/pb_in"; cp "$pb/line.png" "$pb/gt.png" "$w/pb_in/"; pb="$w/pb_in"
  dacon colorize "$pb/line.png" --ref "$pb/gt.png" --ref-line "$pb/line.png" --out "$w/pb" \
    --format png,exr --quiet --device cpu >/dev/null
  dacon segment "$pb/line.png" --out "$w/pbseg" >/dev/null
fi
cd "$w"
find . -type f ! -name '*.json' -print0 | sort -z | xargs -0 sha256sum
find . -type f -name '*.json' -print0 | sort -z | while IFS= read -r -d '' f; do
  "$py" - "$f" "$here" <<'PY'
import hashlib, json, sys
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if not any(s in k for s in ("time", "seconds", "path", "_at", "dir", "file", "version", "elapsed", "host", "pid"))}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
d = json.loads(json.dumps(strip(json.load(open(sys.argv[1])))).replace(sys.argv[2], "<checkout>"))
print(hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest(), " ", sys.argv[1], "(json, times/paths dropped)")
PY
done

#!/usr/bin/env bash
# Checks for a CUDA GPU machine, logs under $OUT (default gpu_out/):
#   scripts/gpu_check.sh tests   the engine's test suite with CUDA (tests/model/test_cuda.py runs there)
#   scripts/gpu_check.sh bench   model stage (scripts/bench_model.py) and end to end
#                                (scripts/bench_end_to_end.py) on cuda, 1920x1920
#   scripts/gpu_check.sh         both
# Runs with the machine's python3 from a source checkout (PYTHONPATH=.), one pytest process:
# pytest-xdist did not exit on a GPU machine once (../shared/notes/gpu-measured.md).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
what=${1:-all}
python3 - >"$OUT/env.txt" 2>&1 <<'PY'
import os, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "gpu",
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "cpus", os.cpu_count())
PY
status=0
if [ "$what" = tests ] || [ "$what" = all ]; then
    python3 -m pytest -q -p no:xdist -p no:cacheprovider -ra tests >"$OUT/pytest.log" 2>&1 || status=1
    tail -n 3 "$OUT/pytest.log"
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
    {
        python3 scripts/bench_model.py --device cuda --sizes 1920x1920 \
            --configs unet16@384 unet16@512 --batches 1 8 || status=1
        python3 scripts/bench_end_to_end.py --device cuda --frames 10 100 --workers 1 2 || status=1
    } >"$OUT/bench.log" 2>&1
    tail -n 20 "$OUT/bench.log"
fi
exit $status

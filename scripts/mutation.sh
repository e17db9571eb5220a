#!/usr/bin/env bash
# Mutation testing of the engine's core modules (mutmut 3). Slow: NOT part of CI.
#   scripts/mutation.sh                      # every core module (may take hours)
#   scripts/mutation.sh matching.bank colorizer   # some modules
#   scripts/mutation.sh --fresh fileio.files      # forget earlier results of a module
#   scripts/mutation.sh --report                  # scores of the earlier runs, nothing run
#   scripts/mutation.sh --survivors fileio.files  # scores and the surviving mutants' names
# Modules: segmentation.segments segmentation.gapclose segmentation.references matching.bank
# colorizer outputs.write fileio.files evaluation.metrics fileio.labelmap
# (dacon_engine/<package>/<module>.py). Each runs in its own working copy .mutation/<module>/ with the
# test files listed for it in pyproject.toml [tool.mutmut.module_tests]; results are kept
# there, and a rerun tests only changed mutants and the earlier survivors. Inspect one with
#   cd .mutation/<module> && ../../.venv/bin/python -m mutmut show <mutant name>
# MUTATION_JOBS (default 2): mutants tested at once. Prints killed / survived / timeout per
# module and a total; known equivalent survivors are explained in scripts/mutation_survivors.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup_env.sh
# mutmut is an extra of the project venv (pyproject [project.optional-dependencies] mutation)
if ! .venv/bin/python -c 'import sys, mutmut; sys.exit(not mutmut.__version__.startswith("3."))' \
        2>/dev/null; then
    .venv/bin/python -m pip install -q "mutmut>=3.8,<4"
fi
# mutmut forks a child per mutant: torch thread pools started in the parent deadlock every
# child unless torch/OpenMP stay single-threaded.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
exec .venv/bin/python scripts/mutation.py --jobs "${MUTATION_JOBS:-2}" "$@"

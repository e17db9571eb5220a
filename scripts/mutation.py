"""Mutation testing of the engine's core modules with mutmut 3 (run by scripts/mutation.sh).

Each module runs in its own working copy, .mutation/<module>/ (gitignored): a copy of the
tree whose pyproject.toml [tool.mutmut] section is narrowed to that module and to the test
files listed for it in the main pyproject's [tool.mutmut.module_tests], so every mutant runs
only the few fast tests that exercise its function. The copies are kept between runs:
mutmut re-tests only mutants whose function changed, and this script re-tests the mutants
that survived last time (new tests may kill them now). --fresh starts a module over.

    python scripts/mutation.py [--jobs N] [--fresh] [MODULE ...]

Prints killed / survived / timeout / other per module and a total; the score is killed / all,
and "w/o equiv." leaves out the survivors explained as equivalent in
scripts/mutation_survivors.md (mutants no test can kill: same behaviour as the original).
Exit status 0 even when mutants survive (it is a measurement, not a gate), 1 on a failed run.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
SURVIVORS = ROOT / "scripts" / "mutation_survivors.md"

# mutmut 3 exit codes of a mutant's test run -> the column it is counted in
KILLED = {1, 3}
SURVIVED = {0}
TIMEOUT = {36, -24, 24, 152, 255}
NOT_RUN = {None}


def config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["mutmut"]


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string for the plain values used here
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")


def module_config(cfg: dict, module: str) -> str:
    """The [tool.mutmut] section of a module's working copy."""
    tests = cfg["module_tests"][module]
    keys = {k: v for k, v in cfg.items() if k not in ("module_tests", "only_mutate",
                                                      "pytest_add_cli_args_test_selection")}
    keys["only_mutate"] = [f"dacon_engine/{module.replace('.', '/')}.py"]
    keys["pytest_add_cli_args_test_selection"] = list(tests)
    lines = ["[tool.mutmut]"] + [f"{k} = {toml_value(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def project_files() -> list[str]:
    """Tracked and untracked, not ignored files of the tree (what a checkout would have)."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                         check=True, capture_output=True).stdout.decode()
    return [p for p in out.split("\0") if p and (ROOT / p).is_file()]


def sync_copy(module: str, cfg: dict) -> Path:
    """Bring .mutation/<module>/ up to date with the tree (unchanged files are not touched,
    so mutmut's cache stays valid for them)."""
    dest = WORK / module
    dest.mkdir(parents=True, exist_ok=True)
    wanted = set(project_files())
    for rel in sorted(wanted):
        src, dst = ROOT / rel, dest / rel
        if rel == "pyproject.toml":
            continue
        if dst.is_file() and filecmp.cmp(src, dst, shallow=False):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    # files deleted from the tree go from the copy too (mutmut's own folder stays)
    for path in list(dest.rglob("*")):
        rel = path.relative_to(dest).as_posix()
        if rel.startswith(("mutants/", ".git/")) or rel == "mutants" or not path.is_file():
            continue
        if rel not in wanted:
            path.unlink()
    text = (ROOT / "pyproject.toml").read_text()
    # drop the main [tool.mutmut] tables, then add the module's own
    text = re.sub(r"^\[tool\.mutmut(\.[A-Za-z_]+)?\]\n(?:(?!\[).*\n?)*", "", text, flags=re.M)
    new = text.rstrip("\n") + "\n\n" + module_config(cfg, module)
    pp = dest / "pyproject.toml"
    if not pp.is_file() or pp.read_text() != new:
        pp.write_text(new)
    # tests find the shared sample data beside the checkout (tests/conftest.py); mutmut runs
    # them from .mutation/<module>/mutants/, so the data must appear beside that folder
    shared = ROOT.parent / "shared"
    link = dest / "shared"
    if shared.is_dir() and not link.exists():
        link.symlink_to(shared)
    return dest


def meta_path(dest: Path, module: str) -> Path:
    return dest / "mutants" / "dacon_engine" / f"{module.replace('.', '/')}.py.meta"


def load_codes(dest: Path, module: str) -> dict[str, int | None]:
    p = meta_path(dest, module)
    if not p.is_file():
        return {}
    return json.loads(p.read_text())["exit_code_by_key"]


def reset_survivors(dest: Path, module: str) -> int:
    """Mark last run's survivors (and timeouts, mutants without tests) as not checked, so
    this run tests them again against the current tests."""
    p = meta_path(dest, module)
    if not p.is_file():
        return 0
    meta = json.loads(p.read_text())
    n = 0
    for k, code in meta["exit_code_by_key"].items():
        if code is not None and code not in KILLED:
            meta["exit_code_by_key"][k] = None
            n += 1
    p.write_text(json.dumps(meta, indent=4))
    return n


def equivalent_mutants() -> set[str]:
    """Mutant names listed in scripts/mutation_survivors.md (``- `name`: why`` lines)."""
    if not SURVIVORS.is_file():
        return set()
    return set(re.findall(r"^- `(dacon_engine\.[\w.]+)`", SURVIVORS.read_text(), re.M))


def count(codes: dict[str, int | None], equivalent: set[str]) -> dict[str, int]:
    c = {"killed": 0, "survived": 0, "timeout": 0, "other": 0, "equivalent": 0}
    for name, code in codes.items():
        if code in SURVIVED and name in equivalent:
            c["equivalent"] += 1
        if code in KILLED:
            c["killed"] += 1
        elif code in SURVIVED:
            c["survived"] += 1
        elif code in TIMEOUT:
            c["timeout"] += 1
        else:
            c["other"] += 1  # no tests, not checked, segfault, suspicious
    c["total"] = len(codes)
    return c


def row(name: str, c: dict[str, int]) -> str:
    def pct(k: int, n: int) -> str:
        return f"{100 * k / n:5.1f} %" if n else "    -  "

    return (f"{name:<12} {c['killed']:>7} {c['survived']:>9} {c['timeout']:>8} "
            f"{c['other']:>6} {c['total']:>6}   {pct(c['killed'], c['total'])}   "
            f"{pct(c['killed'], c['total'] - c['equivalent'])}")


def main(argv: list[str] | None = None) -> int:
    cfg = config()
    known = list(cfg["module_tests"])
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="*", metavar="MODULE",
                    help=f"core modules (default: all of {', '.join(known)})")
    ap.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    ap.add_argument("--fresh", action="store_true", help="forget earlier results")
    ap.add_argument("--report", action="store_true",
                    help="only print the scores of earlier runs")
    ap.add_argument("--survivors", action="store_true",
                    help="also list the surviving mutants (see them with mutmut show)")
    args = ap.parse_args(argv)
    modules = args.modules or known
    bad = [m for m in modules if m not in known]
    if bad:
        ap.error(f"unknown module {', '.join(bad)} (choose from {', '.join(known)})")
    if args.jobs < 1:
        ap.error("--jobs must be 1 or more")

    failed = []
    for module in modules:
        if args.report:
            continue
        if args.fresh:
            shutil.rmtree(WORK / module, ignore_errors=True)
        dest = sync_copy(module, cfg)
        n = reset_survivors(dest, module)
        # mutmut records once which tests reach which function, later only tracing tests
        # it has not seen: a function added (or newly called) since would have its mutants
        # run against the new tests only and survive falsely. Trace every test each run
        # (one run of the selection; the verdicts kept in the .meta files stay).
        (dest / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
        print(f"== {module}: mutating dacon_engine/{module.replace('.', '/')}.py, tests "
              f"{' '.join(cfg['module_tests'][module])}"
              + (f" ({n} earlier survivors re-tested)" if n else ""), flush=True)
        r = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children",
                            str(args.jobs)], cwd=dest)
        if r.returncode != 0:
            print(f"== {module}: mutmut failed (exit {r.returncode})", flush=True)
            failed.append(module)

    print()
    print(f"{'module':<12} {'killed':>7} {'survived':>9} {'timeout':>8} {'other':>6} "
          f"{'total':>6}   score     w/o equiv.")
    total = {"killed": 0, "survived": 0, "timeout": 0, "other": 0, "total": 0, "equivalent": 0}
    equivalent = equivalent_mutants()
    for module in modules:
        codes = load_codes(WORK / module, module)
        c = count(codes, equivalent)
        for k in total:
            total[k] += c[k]
        print(row(module, c))
        if args.survivors:
            for k, code in sorted(codes.items()):
                if code not in KILLED:
                    why = "equivalent" if k in equivalent else "survived" if code == 0 else code
                    print(f"    {k}  ({why})")
    print(row("total", total))
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    sys.exit(main())

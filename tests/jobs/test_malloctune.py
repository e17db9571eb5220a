"""The entry points' allocator setting (dacon_engine.jobs.malloctune)."""

import platform
import subprocess
import sys


def _run(env_value: str | None) -> str:
    code = "from dacon_engine.jobs.malloctune import keep_freed_memory; print(keep_freed_memory())"
    env = {"PATH": "/usr/bin:/bin"}
    if env_value is not None:
        env["DACON_MALLOC_TUNE"] = env_value
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True, cwd=__file__.rsplit("/tests/", 1)[0]
                          ).stdout.strip()


def test_applied_on_glibc_and_opt_out():
    expected = "True" if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc" \
        else "False"
    assert _run(None) == expected
    assert _run("0") == "False"


def test_entry_points_apply_it(monkeypatch):
    from dacon_engine.jobs import cli, malloctune

    calls = []
    monkeypatch.setattr(malloctune, "keep_freed_memory", lambda: calls.append(1) or True)
    assert cli.main(["--help"]) == 0
    assert calls == [1]

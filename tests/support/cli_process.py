"""Run the real `imgaudit` CLI in a child process and measure what it cost.

Hostile-input tests need what CliRunner cannot give: a traceback printed by the interpreter
itself, a RecursionError's thousands of lines, and the child's own peak memory (its
VmHWM, written by the child at exit). An address-space limit turns a runaway
allocation into a failure instead of a machine swapping.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ADDRESS_SPACE_LIMIT = 2 * 1024**3  # a child that needs more than this is a failure by itself


@dataclass(frozen=True)
class Finished:
    exit_code: int
    stdout: str
    stderr: str
    peak_rss_bytes: int
    seconds: float


# The child records its own peak resident set size when it exits, however it exits.
_RUNNER = """
import atexit, os, resource, runpy, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
def record():
    # VmHWM is this program's own peak; ru_maxrss also keeps the parent's size at fork (the
    # kernel carries it across exec), so a large test process would be measured instead.
    try:
        with open("/proc/self/status") as status:
            peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(os.environ["IMGAUDIT_TEST_RUSAGE"], "w") as handle:
        handle.write(str(peak * 1024))
atexit.register(record)
sys.argv[0] = "imgaudit"
runpy.run_module("imgaudit", run_name="__main__", alter_sys=True)
"""


def run_cli(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdin: bytes = b"",
    timeout: float = 60,
) -> Finished:
    """`imgaudit ARGS` in a child with a clean environment plus `env`."""
    rusage = cwd / f".rusage-{os.getpid()}-{time.monotonic_ns()}"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",  # never the machine's engine
        "DOCKER_CONFIG": str(cwd / "no-docker-config"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "NO_COLOR": "1",
        "COLUMNS": "120",
        "IMGAUDIT_TEST_RUSAGE": str(rusage),
    }
    environment.update(env or {})
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", _RUNNER.format(limit=ADDRESS_SPACE_LIMIT), *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.monotonic() - started
    peak = int(rusage.read_text()) if rusage.exists() else 0
    rusage.unlink(missing_ok=True)
    return Finished(
        result.returncode,
        result.stdout.decode("utf-8", "backslashreplace"),
        result.stderr.decode("utf-8", "backslashreplace"),
        peak,
        seconds,
    )

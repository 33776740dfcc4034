"""Time and peak memory of the CLI on the hostile-input corpus (tests/functional/test_hostile_inputs.py).

    python benchmarks/hostile_inputs.py            # every case
    python benchmarks/hostile_inputs.py lint deep  # the cases whose name holds a word given

Prints one row per case: exit code, seconds, the child's peak RSS, and its one stderr line.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.functional.test_hostile_inputs import CASES, REGISTRY_CASES, Workspace
from tests.support.cli_process import Finished, run_cli
from tests.support.hostile_registry import hostile_registry


def _row(name: str, result: Finished) -> str:
    line = (result.stderr.splitlines() or [""])[0][:70]
    return f"{name[:42]:42} {result.exit_code:>4} {result.seconds:>7.2f} {result.peak_rss_bytes / 2**20:>7.0f}  {line}"


def main(words: list[str]) -> None:
    print(f"{'case':42} {'exit':>4} {'seconds':>7} {'RSS MB':>7}  stderr")
    wanted = [n for n in CASES if not words or any(w in n for w in words)]
    for name in wanted:
        with tempfile.TemporaryDirectory() as directory:
            workspace = Workspace(Path(directory))
            args = CASES[name][0](workspace)
            print(_row(name, run_cli(args, cwd=workspace.root, env=workspace.env)), flush=True)
    env = {"IMGAUDIT_REQUEST_DEADLINE": "2", "IMGAUDIT_READ_TIMEOUT": "1"}
    with hostile_registry() as host:
        for behaviour in REGISTRY_CASES:
            if words and not any(w in behaviour for w in words):
                continue
            with tempfile.TemporaryDirectory() as directory:
                result = run_cli([f"registry://{host}/{behaviour}/app:1"], cwd=Path(directory), env=env)
            print(_row(f"registry: {behaviour}", result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

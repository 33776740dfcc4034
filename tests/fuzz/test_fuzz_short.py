"""The fuzz harness, briefly: 15 seconds of atheris over every reader of other people's bytes.
Longer runs: see tests/fuzz/fuzz_readers.py and the README's "Limits"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("fuzz_readers.py")
SECONDS = 15


def test_readers_survive_a_short_fuzz_run(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus, artifacts = tmp_path / "corpus", tmp_path / "crashes"
    artifacts.mkdir()
    result = subprocess.run(
        [
            # libFuzzer's -rss_limit_mb reads ru_maxrss, which survives fork and exec: run
            # straight from pytest, the harness counted this process's own peak (2.2 GB after
            # the hostile tests, in some random orders) as its own. A child of a small process
            # starts from that process's peak.
            sys.executable,
            "-c",
            "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))",
            sys.executable,
            str(HARNESS),
            str(corpus),
            f"-max_total_time={SECONDS}",
            "-rss_limit_mb=1024",
            "-timeout=20",
            f"-artifact_prefix={artifacts}/",
        ],
        capture_output=True,
        text=True,
        timeout=SECONDS + 60,
        check=False,
    )
    crashes = sorted(artifacts.iterdir())
    assert result.returncode == 0 and not crashes, result.stderr[-3000:]
    assert "Done" in result.stderr  # libFuzzer ran to its time limit

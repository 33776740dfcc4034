"""A cache directory that cannot be used is said once, on stderr, and the audit still runs."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli_process import run_cli

SAMPLE = str(Path(__file__).resolve().parents[2] / "samples" / "naive-poetry.tar")


def test_an_unusable_cache_directory_is_one_warning_and_the_audit_runs(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    finished = run_cli(
        [SAMPLE, "--format", "json"], cwd=tmp_path, env={"IMGAUDIT_CACHE_DIR": str(blocker / "cache")}
    )
    assert finished.exit_code == 0, finished.stderr
    assert finished.stdout.startswith("{")
    warnings = finished.stderr.splitlines()
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("imgaudit: warning: the cache directory ")
    assert str(blocker / "cache") in warnings[0] and "IMGAUDIT_CACHE_DIR" in warnings[0]


def test_no_warning_with_a_usable_directory_or_without_the_cache(tmp_path: Path) -> None:
    usable = run_cli(
        [SAMPLE, "--format", "json"], cwd=tmp_path, env={"IMGAUDIT_CACHE_DIR": str(tmp_path / "c")}
    )
    assert (usable.exit_code, usable.stderr) == (0, "")
    off = run_cli(
        [SAMPLE, "--format", "json", "--no-cache"], cwd=tmp_path, env={"IMGAUDIT_CACHE_DIR": "/proc/none"}
    )
    assert (off.exit_code, off.stderr) == (0, "")

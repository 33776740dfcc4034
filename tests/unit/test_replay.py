"""A warm audit of an archive replays the outputs a full run stored: same bytes (but its own
duration), same exit code, and never when an input the key names has changed."""

from __future__ import annotations

import json
import marshal
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from imgaudit import config, replay
from imgaudit.cli import audit_command

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "naive-poetry.tar"
DURATION = '"duration_seconds"'


class Runs:
    """`python -m imgaudit` as a user runs it, in its own working directory and cache."""

    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path / "work"
        self.cwd.mkdir()
        (self.cwd / ".git").mkdir()  # the config search stops here, not in the test's parents
        self.cache = tmp_path / "cache"
        self.image = self.cwd / "image.tar"
        shutil.copyfile(SAMPLE, self.image)

    def __call__(self, *args: str, **environment: str) -> subprocess.CompletedProcess[str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("IMGAUDIT_")}
        env = {**inherited, "IMGAUDIT_CACHE_DIR": str(self.cache), **environment}
        return subprocess.run(
            [sys.executable, "-m", "imgaudit", *args],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    def entries(self) -> list[Path]:
        directory = self.cache / "replay-1"
        return sorted(directory.glob("*.replay")) if directory.is_dir() else []


@pytest.fixture
def runs(tmp_path: Path) -> Runs:
    return Runs(tmp_path)


def _without_duration(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if DURATION not in line)


def _rewrite_entry(path: Path, change: str) -> None:
    """Give a stored entry a different text, validly: what the next run prints shows whether
    it was replayed."""
    payload = path.read_bytes()[32:]
    key, code, texts = marshal.loads(payload)
    payload = marshal.dumps((key, code, [text.replace('"final_bytes"', change) for text in texts]))
    from hashlib import sha256

    path.write_bytes(sha256(payload).digest() + payload)


def test_a_second_identical_run_replays_the_first_ones_output(runs: Runs) -> None:
    first = runs("image.tar", "--format", "json")
    assert first.returncode == 0, first.stderr
    assert len(runs.entries()) == 1
    second = runs("image.tar", "--format", "json")
    assert second.returncode == 0
    assert _without_duration(second.stdout) == _without_duration(first.stdout)
    assert json.loads(second.stdout)["duration_seconds"] < json.loads(first.stdout)["duration_seconds"]

    _rewrite_entry(runs.entries()[0], '"replayed_final_bytes"')
    assert '"replayed_final_bytes"' in runs("image.tar", "--format", "json").stdout


def test_the_duration_is_the_replays_own_and_files_are_written(runs: Runs) -> None:
    runs("audit", "image.tar", "--format", "json", "-o", "report.json")
    first = (runs.cwd / "report.json").read_text()
    (runs.cwd / "report.json").unlink()
    assert runs("audit", "image.tar", "--format", "json", "-o", "report.json").returncode == 0
    second = (runs.cwd / "report.json").read_text()
    assert _without_duration(second) == _without_duration(first)
    assert str(replay.DURATION_MARKER) not in second
    assert json.loads(second)["duration_seconds"] >= 0


def test_a_failed_limit_is_replayed_with_its_exit_code(runs: Runs) -> None:
    first = runs("image.tar", "--max-size", "1MB", "--format", "markdown")
    second = runs("image.tar", "--max-size", "1MB", "--format", "markdown")
    assert (first.returncode, second.returncode) == (1, 1)
    assert second.stdout == first.stdout
    assert len(runs.entries()) == 1


def test_a_changed_archive_is_read_again(runs: Runs) -> None:
    runs("image.tar", "--format", "json")
    _rewrite_entry(runs.entries()[0], '"replayed_final_bytes"')
    os.utime(runs.image)  # same bytes, but the file may have changed: the key changes
    assert '"replayed_final_bytes"' not in runs("image.tar", "--format", "json").stdout
    assert len(runs.entries()) == 2


def test_a_new_config_file_changes_the_outcome(runs: Runs) -> None:
    assert runs("image.tar", "--format", "json").returncode == 0
    (runs.cwd / ".imgaudit.toml").write_text('max-size = "1MB"\n')
    again = runs("image.tar", "--format", "json")
    assert again.returncode == 1  # the limit in the new file, not the stored exit 0
    assert json.loads(again.stdout)["gate"]["passed"] is False


def test_a_damaged_entry_is_a_miss_and_is_rewritten(runs: Runs) -> None:
    first = runs("image.tar", "--format", "json")
    entry = runs.entries()[0]
    data = bytearray(entry.read_bytes())
    data[100] ^= 0xFF
    entry.write_bytes(bytes(data))
    second = runs("image.tar", "--format", "json")
    assert _without_duration(second.stdout) == _without_duration(first.stdout)
    assert entry.read_bytes() != bytes(data)
    entry.write_bytes(entry.read_bytes()[:50])  # truncated
    assert _without_duration(runs("image.tar", "--format", "json").stdout) == _without_duration(first.stdout)


def test_no_cache_stores_nothing_and_other_commands_are_not_replayed(runs: Runs) -> None:
    runs("image.tar", "--format", "json", "--no-cache")
    runs("image.tar", "--format", "json", IMGAUDIT_NO_CACHE="1")
    runs("image.tar", "--format", "json", "--project", ".")  # a directory: not nameable
    assert runs.entries() == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["image.tar"], (["image.tar"], [None])),
        (["audit", "image.tar", "--format", "json", "-o", "r.json"], (["image.tar"], ["r.json"])),
        (
            ["image.tar", "--format=json=r.json", "--format", "sarif=s.sarif", "--dockerfile", "Dockerfile"],
            (["image.tar", "Dockerfile"], ["r.json", "s.sarif"]),
        ),
        (["image.tar", "--format", "markdown=-", "-q", "--max-size=1MB"], (["image.tar"], [None])),
        (["image.tar", "--no-cache"], None),
        (["image.tar", "--base", "base.tar"], None),
        (["image.tar", "other.tar"], None),
        (["image.tar", "--format"], None),
        (["image.tar", "-qo", "r.json"], None),
        (["image.tar", "--format", "json", "--format", "sarif=s", "-o", "r.json"], None),
        (["--help"], None),
        (["lint", "Dockerfile"], None),  # another command: two words where one reference goes
    ],
)
def test_which_command_lines_a_replay_may_name(argv: list[str], expected: object) -> None:
    assert replay._parse(argv) == expected


def test_the_replayable_options_are_the_audit_commands_own() -> None:
    """An option that changed from a value to a flag (or disappeared) would make the replay
    misread a command line: it must be taken out of these tables with it."""
    options = {
        name: parameter
        for parameter in audit_command.params
        if isinstance(parameter, click.Option)
        for name in parameter.opts
    }
    for name in replay.WORD_OPTIONS:
        assert not options[name].is_flag, name
    for name in replay.FLAGS:
        assert options[name].is_flag, name
    assert set(replay.CONFIG_NAMES) == {config.IMGAUDIT_TOML, config.PYPROJECT, config.DIVE_CI}

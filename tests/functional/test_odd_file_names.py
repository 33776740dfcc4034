"""File names are the image author's: spaces, `$(...)`, rich's `[/]` markup, `:emoji:` codes,
newlines and tabs. Every report prints them as they are, one row each, and a suggested `rm`
deletes exactly them and runs nothing else."""

from __future__ import annotations

import shlex
from pathlib import Path

from tests.support.cli_process import run_cli
from tests.support.imagespec import File, ImageSpec, Layer, Whiteout, classic_files, file, write_tar
from tests.support.imagespec import build as build_image

ODD = (
    "data/my dir",
    "data/odd\nname.bin",
    "data/tab\there.bin",
    "data/$(touch pwned);.bin",
    "data/[/]markup[bold]x",
    "data/:thumbs_up:.bin",
)


def _archive(tmp_path: Path) -> str:
    spec = ImageSpec(
        layers=[
            Layer([File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")], "ADD rootfs /"),
            Layer([file(name, 1_000_000 + 100_000 * i) for i, name in enumerate(ODD)], "RUN make data"),
            Layer([Whiteout(name) for name in ODD], "RUN rm -rf /data/*"),
        ],
        tags=["odd/names:1"],
    )
    return str(write_tar(classic_files([build_image(spec)]), tmp_path / "odd.tar"))


def test_odd_names_are_printed_as_they_are_one_row_each(tmp_path: Path) -> None:
    finished = run_cli([_archive(tmp_path), "--show", "wasted"], cwd=tmp_path)
    assert finished.exit_code == 0, finished.stderr
    rows = [line for line in finished.stdout.splitlines() if "(deleted)" in line]
    shown = ["/data/my dir", "/data/odd\\nname.bin", "/data/tab\\there.bin", "/data/$(touch pwned);.bin"]
    shown += ["/data/[/]markup[bold]x", "/data/:thumbs_up:.bin"]
    assert len(rows) == len(ODD)
    for name in shown:
        assert sum(row.lstrip().startswith(name + " ") for row in rows) == 1, (name, rows)


def test_the_suggested_rm_deletes_exactly_the_odd_names(tmp_path: Path) -> None:
    finished = run_cli([_archive(tmp_path), "--show", "fixes"], cwd=tmp_path)
    assert finished.exit_code == 0, finished.stderr
    command = next(line for line in finished.stdout.splitlines() if "&& rm -rf" in line)
    words = shlex.split(command.split("&& rm -rf", 1)[1])
    # A control character is the one-character glob `?` (a newline would end the RUN line).
    expected = {"/" + name.replace("\n", "?").replace("\t", "?") for name in ODD}
    assert len(set(words)) == len(words) >= 5 and set(words) <= expected, words
    assert "$(touch" not in command.replace("'/data/$(touch pwned);.bin'", "")

"""`imgaudit ARCHIVE` end to end, as a user runs it (a real subprocess)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from imgaudit.report.json import schema
from tests.support.imagespec import (
    File,
    ImageSpec,
    Layer,
    Whiteout,
    build,
    classic_files,
    file,
    write_image,
    write_tar,
)

SAMPLE = Path(__file__).parents[2] / "samples" / "naive-poetry.tar"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imgaudit", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def simple_spec() -> ImageSpec:
    return ImageSpec(
        layers=[
            Layer(
                [File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"), file("bin/sh", 3000)], "ADD rootfs /"
            ),
            Layer(
                [file("root/.cache/pypoetry/artifacts/x.whl", 2000), file("tmp/t/a", 500)],
                "RUN poetry install",
            ),
            Layer([Whiteout("tmp/t")], "RUN rm -rf /tmp/t"),
        ]
    )


def test_the_bundled_sample_report_validates_and_adds_up() -> None:
    result = run(str(SAMPLE), "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, schema())
    image = report["image"]
    assert sum(report["categories"].values()) == image["final_bytes"]
    assert image["wasted_bytes"] == image["total_bytes"] - image["final_bytes"] > 0
    assert report["categories"]["poetry_cache"] > 0
    assert report["categories"]["base_image"] > 0
    assert report["wasted"][0]["path"] == "/root/.cache/virtualenv"
    assert report["base"]["method"] == "history"


def test_the_terminal_report_is_plain_text_when_not_a_tty() -> None:
    result = run(str(SAMPLE), "--details", env={"NO_COLOR": "1"})
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout
    for heading in (
        "imgaudit-sample/naive-poetry:latest",
        "Poetry cache",
        "Layers",
        "Wasted",
        "Largest directories",
    ):
        assert heading in result.stdout


def test_json_goes_to_a_file_with_output(tmp_path: Path) -> None:
    archive = write_image(simple_spec(), tmp_path / "image.tar")
    result = run(str(archive), "--format", "json", "--output", str(tmp_path / "report.json"))
    assert result.returncode == 0 and result.stdout == ""
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["image"]["wasted_bytes"] == 500
    assert report["wasted"] == [
        {"path": "/tmp/t", "bytes": 500, "files": 1, "shipped_by": 1, "removed_by": 2, "removal": "deleted"}
    ]


def test_audit_is_also_an_explicit_subcommand(tmp_path: Path) -> None:
    archive = write_image(simple_spec(), tmp_path / "image.tar")
    assert run("audit", str(archive), "--format", "json").returncode == 0
    assert "Usage" in run("--help").stdout


def _corrupt_gzip_layer(tmp_path: Path) -> Path:
    built = build(simple_spec(), compression="gzip")
    files = classic_files([built])
    name = next(k for k in files if k.endswith("layer.tar") and len(files[k]) > 200)
    data = bytearray(files[name])
    data[len(data) // 2] ^= 0xFF
    files[name] = bytes(data)
    return write_tar(files, tmp_path / "corrupt.tar")


def _truncated_archive(tmp_path: Path) -> Path:
    whole = write_image(simple_spec(), tmp_path / "whole.tar").read_bytes()
    path = tmp_path / "truncated.tar"
    path.write_bytes(whole[: len(whole) // 2])
    return path


def _truncated_gzip_layer(tmp_path: Path) -> Path:
    built = build(simple_spec(), compression="gzip")
    files = classic_files([built])
    name = next(k for k in files if k.endswith("layer.tar") and len(files[k]) > 200)
    files[name] = files[name][:-30]
    return write_tar(files, tmp_path / "cut.tar")


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


BAD_INPUTS = {
    "empty": lambda t: _write(t, "empty.tar", b""),
    "not a tar": lambda t: _write(t, "notes.txt", b"hello, this is not an image\n" * 50),
    "compressed archive": lambda t: _write(t, "i.tar.gz", gzip.compress(b"x" * 2000)),
    "truncated archive": _truncated_archive,
    "corrupt gzip layer": _corrupt_gzip_layer,
    "truncated gzip layer": _truncated_gzip_layer,
    "missing manifest": lambda t: write_tar({"something.json": b"{}"}, t / "nomanifest.tar"),
    "bad json": lambda t: write_tar({"manifest.json": b"[{"}, t / "badjson.tar"),
    "missing blob": lambda t: write_tar(
        {k: v for k, v in classic_files([build(simple_spec())]).items() if not k.endswith("layer.tar")},
        t / "noblob.tar",
    ),
    "no such file": lambda t: t / "does-not-exist.tar",
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    path = BAD_INPUTS[case](tmp_path)
    result = run(str(path))
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("imgaudit: error: ")
    assert "Traceback" not in result.stderr


def test_an_ambiguous_archive_lists_its_images(tmp_path: Path) -> None:
    two = [simple_spec(), ImageSpec(layers=simple_spec().layers, tags=["example/other:2"], env={"X": "1"})]
    archive = write_image(two, tmp_path / "two.tar")
    result = run(str(archive))
    assert result.returncode == 2
    assert "example/app:latest" in result.stderr and "example/other:2" in result.stderr
    assert run(str(archive), "--image", "example/other:2", "--format", "json").returncode == 0


def test_base_flag_takes_an_archive_of_the_base(tmp_path: Path) -> None:
    image = simple_spec()
    base = ImageSpec(layers=image.layers[:1], tags=["example/base:1"])
    write_image(image, tmp_path / "image.tar")
    write_image(base, tmp_path / "base.tar")
    result = run(str(tmp_path / "image.tar"), "--base", str(tmp_path / "base.tar"), "--format", "json")
    report = json.loads(result.stdout)
    assert report["base"] == {"method": "flag", "layer_count": 1, "name": "example/base:1", "digest": None}
    unrelated = write_image(ImageSpec(layers=[Layer([file("x", 1)])]), tmp_path / "other.tar")
    failed = run(str(tmp_path / "image.tar"), "--base", str(unrelated))
    assert failed.returncode == 2 and "not built on" in failed.stderr

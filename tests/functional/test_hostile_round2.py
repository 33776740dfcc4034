"""Hostile inputs and odd-but-legal archives, second round: each is read from the user's
side (the CLI in a child process on an archive built here) and either audited with exact
byte figures (checked against tests/support/independent.py where it reads the layer) or
refused with one line and exit 2, in bounded time and memory."""

from __future__ import annotations

import json
from pathlib import Path

from tests.functional.test_hostile_inputs import SPEC, assert_one_line_error
from tests.support.cli_process import run_cli
from tests.support.imagespec import File, ImageSpec, Layer, build, classic_files, file, write_tar

# `"\"\"\"...`: a string left open, full of escaped quotes. The bracket scan that runs before
# the JSON and TOML parsers (inputs.nesting_depth) retried its string pattern at every quote,
# each try running to the end: 40 KB took 23 s, 200 KB would take hours.
OPEN_STRING = b'"' + b'\\"' * 100_000


def test_a_manifest_json_holding_an_open_string_of_escaped_quotes_is_refused_at_once(tmp_path: Path) -> None:
    files = classic_files([build(SPEC)])
    files["manifest.json"] = OPEN_STRING
    result = run_cli([str(write_tar(files, tmp_path / "open.tar"))], cwd=tmp_path, timeout=30)
    assert_one_line_error(result, "manifest.json is not valid JSON: Unterminated string")
    assert result.seconds < 5


def test_a_poetry_lock_in_the_image_holding_an_open_string_is_a_warning_at_once(tmp_path: Path) -> None:
    spec = ImageSpec(
        layers=[*SPEC.layers, Layer([File("app/poetry.lock", b"a = " + OPEN_STRING + b"\n")], "COPY . .")],
        tags=["hostile/app:1"],
        workdir="/app",
    )
    archive = write_tar(classic_files([build(spec)]), tmp_path / "lock.tar")
    result = run_cli([str(archive), "--format", "json"], cwd=tmp_path, timeout=30)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert result.seconds < 5
    report = json.loads(result.stdout)
    assert any(w.startswith("poetry.lock is not valid TOML") for w in report["warnings"])
    assert report["image"]["total_bytes"] == sum(layer["size_bytes"] for layer in report["layers"])


def test_a_classic_layer_listed_twice_under_two_diff_ids_is_checked_against_each(tmp_path: Path) -> None:
    """manifest.json may list one `<id>/layer.tar` twice; the config names a diff_id for each
    listing. The blob was read once and the second listing never checked: the audit said
    10,000 bytes with a fresh cache and 8,000 with one holding the second diff_id (the layer
    the config names). `docker load` refuses such an archive; so does imgaudit now."""
    built = build(ImageSpec(layers=[Layer([file("bin/sh", 5_000)]), Layer([file("app/a", 3_000)])]))
    files = classic_files([built])
    entry = json.loads(files["manifest.json"])[0]
    entry["Layers"] = [entry["Layers"][0]] * 2
    files["manifest.json"] = json.dumps([entry]).encode()
    result = run_cli([str(write_tar(files, tmp_path / "twice.tar"))], cwd=tmp_path)
    assert_one_line_error(result, "does not match its digest")

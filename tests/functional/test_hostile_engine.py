"""A broken or hostile Docker engine: its JSON answers are read through the capped reader,
so each of these is one line on stderr and exit 2, never a traceback or a runaway read."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.functional.test_hostile_inputs import (
    DEEP_JSON,
    DEEP_OBJECT,
    LONG_INTEGER,
    MEMORY_BOUND,
    TIME_BOUND,
    assert_one_line_error,
)
from tests.support.cli_process import run_cli
from tests.support.hostile_engine import hostile_engine
from tests.support.imagespec import ImageSpec, Layer, build, classic_files, file

INSPECT = "/images/team/app:1/json"
GOOD_ID = "sha256:" + "a" * 64

# case -> (answers, environment, the words the one error line must contain)
CASES: dict[str, tuple[dict[str, tuple[int, bytes]], dict[str, str], str]] = {
    "inspect nests 100k levels": ({INSPECT: (200, DEEP_JSON)}, {}, "nests deeper than 256"),
    "inspect nests 100k objects": ({INSPECT: (200, DEEP_OBJECT)}, {}, "nests deeper than 256"),
    "inspect has a 5000-digit integer": (
        {INSPECT: (200, b'{"Id": "x", "Size": ' + LONG_INTEGER + b"}")},
        {},
        "integer of 5001 digits",
    ),
    "inspect is not JSON": ({INSPECT: (200, b"<html>proxy error</html>")}, {}, "is not valid JSON"),
    "inspect is not UTF-8": ({INSPECT: (200, b'{"Id": "\xff"}')}, {}, "not UTF-8"),
    "inspect is a list": ({INSPECT: (200, b"[1, 2]")}, {}, "should be a JSON object"),
    "inspect Id is a number": ({INSPECT: (200, b'{"Id": 7}')}, {}, "Id should be a string"),
    "inspect RepoTags is a number": (
        {INSPECT: (200, b'{"Id": "%s", "RepoTags": 3}' % GOOD_ID.encode())},
        {},
        "RepoTags should be a list",
    ),
    "inspect RootFS.Layers holds numbers": (
        {INSPECT: (200, b'{"Id": "%s", "RootFS": {"Layers": [1]}}' % GOOD_ID.encode())},
        {},
        "Layers should be a list of strings",
    ),
    "inspect is larger than the cap": (
        {INSPECT: (200, b'{"Id": "' + b"x" * 3_000_000 + b'"}')},
        {"IMGAUDIT_MAX_JSON_BYTES": "1000000"},
        "larger than 1000000 bytes",
    ),
    "pull progress nests 100k levels": (
        {"/images/create": (200, DEEP_JSON)},
        {},
        "nests deeper than 256",
    ),
    "pull progress is one endless line": (
        {"/images/create": (200, b'{"status": "' + b"x" * 3_000_000)},
        {},
        "longer than 1048576 bytes",
    ),
}


def _saved(pax: dict[str, str] | None = None, manifest: bytes | None = None) -> bytes:
    """What `docker save` streams for one small image; `pax` adds records to manifest.json's header."""
    files = classic_files([IMAGE])
    if manifest is not None:
        files["manifest.json"] = manifest
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if name == "manifest.json" and pax:
                info.pax_headers = pax
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


IMAGE = build(ImageSpec(layers=[Layer([file("bin/sh", 5_000)])], tags=("team/app:1",)))
_DESCRIBED = {
    INSPECT: (200, json.dumps({"Id": IMAGE.config_digest, "RepoTags": ["team/app:1"]}).encode()),
    "/images/json": (200, b"[]"),
}
SAVE = f"/images/{IMAGE.config_digest}/get"
CASES.update(
    {
        "save is not a tar": ({**_DESCRIBED, SAVE: (200, b"garbage" * 1000)}, {}, "unreadable image archive"),
        "save is cut in half": (
            {**_DESCRIBED, SAVE: (200, _saved()[: len(_saved()) // 2])},
            {},
            "unreadable image archive",
        ),
        "save has a 50 MB pax header": (  # tarfile held it whole: 193 MB peak
            {**_DESCRIBED, SAVE: (200, _saved(pax={"comment": "x" * 50_000_000}))},
            {},
            "a header extension of 50000018 bytes",
        ),
        "save's manifest.json nests 100k levels": (
            {**_DESCRIBED, SAVE: (200, _saved(manifest=DEEP_JSON))},
            {},
            "nests deeper than 256",
        ),
    }
)


def test_the_fake_engine_serves_a_save_that_audits(tmp_path: Path) -> None:
    socket = Path(f"/tmp/imgaudit-engine-good-{abs(hash(str(tmp_path))) % 10**9}.sock")
    with hostile_engine(socket, {**_DESCRIBED, SAVE: (200, _saved())}) as host:
        result = run_cli(["docker://team/app:1", "--format", "json"], cwd=tmp_path, env={"DOCKER_HOST": host})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["layers"][0]["size_bytes"] == 5_000


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_engine_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    answers, env, expected = CASES[case]
    # a short socket path: unix sockets allow about 100 bytes
    socket = Path(f"/tmp/imgaudit-engine-{abs(hash((case, str(tmp_path)))) % 10**9}.sock")
    with hostile_engine(socket, answers) as host:
        result = run_cli(["docker://team/app:1"], cwd=tmp_path, env={"DOCKER_HOST": host, **env})
    assert_one_line_error(result, expected)
    assert result.peak_rss_bytes < MEMORY_BOUND
    assert result.seconds < TIME_BOUND

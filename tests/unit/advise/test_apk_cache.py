"""Alpine's package cache shipped in a layer: `apk-cache-left`, as a user sees it from
`imgaudit audit IMAGE --format json`. apk keeps the repositories' indexes
(`APKINDEX.<hash>.tar.gz`) in /var/cache/apk unless told `--no-cache`; the saving is the bytes
the image's own layers left there (an earlier copy a later refresh overwrote included), never the
base's, never those a later layer deleted (that is `late-deletion`). Every figure is a sum of the
spec's file sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.imagespec import File, ImageSpec, Layer, Whiteout, file, write_image

INSTALLED = b"P:musl\nV:1.2.5-r0\nF:lib\nR:ld-musl-x86_64.so.1\n\nP:gcc\nV:14.2.0-r4\nF:usr/bin\nR:gcc\n"
ALPINE = Layer(
    [
        File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
        File("lib/apk/db/installed", INSTALLED.split(b"\nP:gcc")[0] + b"\n"),
        file("lib/ld-musl-x86_64.so.1", 600),
        file("usr/local/bin/python3.12", 4000),
    ],
    "ADD alpine-minirootfs.tar.gz /",
)
INDEX_MAIN = "var/cache/apk/APKINDEX.abcd1234.tar.gz"
INDEX_COMMUNITY = "var/cache/apk/APKINDEX.ef567890.tar.gz"
DOCKERFILE = """\
FROM python:3.12-alpine
WORKDIR /app
RUN apk add gcc
COPY app.py ./
"""


def alpine_image(*layers: Layer, base: Layer = ALPINE) -> ImageSpec:
    steps = [(base.created_by, False), ('CMD ["python3"]', True)]
    steps += [(layer.created_by, False) for layer in layers]
    return ImageSpec(layers=[base, *layers], history=steps, workdir="/app")


def gcc_layer(*extra: File, created_by: str = "/bin/sh -c apk add gcc") -> Layer:
    return Layer(
        [File("lib/apk/db/installed", INSTALLED), file("usr/bin/gcc", 5000), *extra],
        created_by,
    )


def audit_json(tmp_path: Path, spec: ImageSpec, *args: str) -> dict[str, Any]:
    archive = write_image(spec, tmp_path / "alpine.tar")
    result = subprocess.run(
        [sys.executable, "-m", "imgaudit", "audit", str(archive), "--format", "json", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def apk_findings(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["id"] == "apk-cache-left"]


def test_the_index_apk_add_left_is_the_saving_and_points_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    spec = alpine_image(
        gcc_layer(file(INDEX_MAIN, 1_300_000), file(INDEX_COMMUNITY, 900_000)),
        Layer([file("app/app.py", 700)], "/bin/sh -c #(nop) COPY file:ab12 in ./ "),
    )
    report = audit_json(tmp_path, spec, "--dockerfile", str(tmp_path / "Dockerfile"))
    [finding] = apk_findings(report)
    assert finding["estimated_savings_bytes"] == 1_300_000 + 900_000
    assert finding["evidence"]["layers"] == [1]
    assert finding["evidence"]["paths"] == ["/" + INDEX_MAIN, "/" + INDEX_COMMUNITY]
    assert [line["start"] for line in finding["dockerfile_lines"]] == [3]
    assert "apk add --no-cache" in finding["fix"]["dockerfile"]
    assert "rm -rf /var/cache/apk/*" in finding["fix"]["text"]
    assert any(
        step["finding_ids"] == ["apk-cache-left"] and step["estimated_savings_bytes"] == 2_200_000
        for step in report["plan"]["steps"]
    )


def test_downloaded_packages_in_an_enabled_cache_count_too(tmp_path: Path) -> None:
    # /etc/apk/cache a directory: apk keeps every package it downloads there as well (apk-cache(5)).
    spec = alpine_image(
        gcc_layer(
            file(INDEX_MAIN, 40_000),
            file("etc/apk/cache/gcc-14.2.0-r4.e1f2a3b4.apk", 30_000),
            file("etc/apk/cache/APKINDEX.abcd1234.tar.gz", 20_000),
        )
    )
    [finding] = apk_findings(audit_json(tmp_path, spec))
    assert finding["estimated_savings_bytes"] == 90_000
    assert "downloaded packages" in finding["fix"]["text"]
    assert "/etc/apk/cache/*" in finding["fix"]["text"]


def test_the_base_images_apk_cache_is_the_bases_not_this_finding(tmp_path: Path) -> None:
    base = Layer([*ALPINE.entries, file(INDEX_MAIN, 1_100_000)], ALPINE.created_by)
    clean = alpine_image(gcc_layer(created_by="/bin/sh -c apk add --no-cache gcc"), base=base)
    assert apk_findings(audit_json(tmp_path, clean)) == []
    # An index the image's own layer adds beside the base's: only the added bytes.
    updated = alpine_image(gcc_layer(file(INDEX_COMMUNITY, 800_000)), base=base)
    [finding] = apk_findings(audit_json(tmp_path, updated))
    assert finding["estimated_savings_bytes"] == 800_000


def test_an_index_a_later_layer_deletes_is_late_deletion_not_this_finding(tmp_path: Path) -> None:
    spec = alpine_image(
        gcc_layer(file(INDEX_MAIN, 1_300_000)),
        Layer([Whiteout(INDEX_MAIN)], "/bin/sh -c rm -rf /var/cache/apk/*"),
    )
    report = audit_json(tmp_path, spec)
    assert apk_findings(report) == []
    assert any(f["id"] == "late-deletion" for f in report["findings"])


def test_an_index_a_later_refresh_overwrote_still_ships_in_its_layer(tmp_path: Path) -> None:
    # `RUN apk update` then `RUN apk add gcc`: the add refreshes the same index file; the first
    # copy is in no final path but ships in layer 1, and `--no-cache` on both saves both.
    spec = alpine_image(
        Layer([file(INDEX_MAIN, 1_000_000, seed=1)], "/bin/sh -c apk update"),
        gcc_layer(file(INDEX_MAIN, 1_200_000, seed=2)),
    )
    [finding] = apk_findings(audit_json(tmp_path, spec))
    assert finding["estimated_savings_bytes"] == 2_200_000
    assert finding["evidence"]["layers"] == [1, 2]


def test_ignore_leaves_it_out(tmp_path: Path) -> None:
    spec = alpine_image(gcc_layer(file(INDEX_MAIN, 1_300_000)))
    assert apk_findings(audit_json(tmp_path, spec, "--ignore", "apk-cache-left")) == []

"""Manifests, indexes and references an outsider would try (issue 11, second pass): each is
read as the engines read it, or refused with one line and exit 2; byte figures are checked
against an independent count (tests/support/independent.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from imgaudit.errors import ImgauditError
from tests.conftest import audit_path
from tests.functional.test_hostile_inputs import assert_one_line_error
from tests.support.cli_process import run_cli
from tests.support.imagespec import (
    ImageSpec,
    Layer,
    build,
    classic_files,
    file,
    layout_files,
    write_dir,
    write_tar,
)
from tests.support.independent import figures

BASE = Layer([file("bin/sh", 5_000)], "ADD rootfs /")
A = ImageSpec(layers=[BASE, Layer([file("app/a", 3_000)])], tags=("team/a:1",))
B = ImageSpec(layers=[BASE, Layer([file("app/b", 7_000)])], tags=("team/b:1",))
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
Files = dict[str, bytes]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob(digest: str) -> str:
    return "blobs/sha256/" + digest.split(":", 1)[1]


def put(files: Files, data: bytes) -> str:
    files[blob(sha256(data))] = data
    return sha256(data)


def oci_layout(
    tmp_path: Path,
    edit_manifest: Callable[[dict[str, Any], Files], dict[str, Any]] | None = None,
    edit_index: Callable[[dict[str, Any], Files], dict[str, Any]] | None = None,
) -> Path:
    """Image A as an OCI layout whose manifest or index is rewritten (digests kept true)."""
    files = layout_files([build(A)], docker_manifest=False)
    index = json.loads(files["index.json"])
    manifest = json.loads(files.pop(blob(index["manifests"][0]["digest"])))
    if edit_manifest:
        manifest = edit_manifest(manifest, files)
    data = json.dumps(manifest).encode()
    index["manifests"][0].update(digest=put(files, data), size=len(data))
    if edit_index:
        index = edit_index(index, files)
    files["index.json"] = json.dumps(index).encode()
    return write_dir(files, tmp_path / "layout")


def with_diff_ids(diff_ids: list[str]) -> Callable[[dict[str, Any], Files], dict[str, Any]]:
    def edit(manifest: dict[str, Any], files: Files) -> dict[str, Any]:
        config = json.loads(build(A).config)
        config["rootfs"]["diff_ids"] = diff_ids
        return {
            **manifest,
            "config": {**manifest["config"], "digest": put(files, json.dumps(config).encode())},
        }

    return edit


def nested(depth: int) -> Callable[[dict[str, Any], Files], dict[str, Any]]:
    def edit(index: dict[str, Any], files: Files) -> dict[str, Any]:
        for _ in range(depth):
            inner = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": index["manifests"]})
            digest = put(files, inner.encode())
            index = {**index, "manifests": [{"mediaType": INDEX_TYPE, "digest": digest, "size": len(inner)}]}
        return index

    return edit


def test_a_config_whose_diff_ids_are_not_its_uncompressed_layers_is_refused(tmp_path: Path) -> None:
    # An uncompressed layer's digest is its diff_id; `docker load` refuses a config naming others.
    path = oci_layout(tmp_path, with_diff_ids([sha256(b"one"), sha256(b"two")]))
    with pytest.raises(ImgauditError, match=r"uncompressed layer .* but the config names sha256:"):
        audit_path(path)


def test_docker_25_layers_listed_in_another_order_than_the_config_are_refused(tmp_path: Path) -> None:
    files = layout_files([build(A)], docker_manifest=True)
    entries = json.loads(files["manifest.json"])
    entries[0]["Layers"].reverse()
    files["manifest.json"] = json.dumps(entries).encode()
    with pytest.raises(ImgauditError, match="but the config names"):
        audit_path(write_tar(files, tmp_path / "saved.tar"))


@pytest.mark.parametrize("layout", ["classic", "oci"])
def test_the_same_layer_twice_ships_its_bytes_twice(tmp_path: Path, layout: str) -> None:
    twice = build(ImageSpec(layers=[Layer([file("x/y", 4_000)]), Layer([file("x/y", 4_000)])]))
    path = (
        write_tar(classic_files([twice]), tmp_path / "twice.tar")
        if layout == "classic"
        else write_dir(layout_files([twice], docker_manifest=False), tmp_path / "twice")
    )
    report, expected = audit_path(path), figures(path)
    assert [layer.wasted_bytes for layer in report.layers] == expected.wasted_bytes == [4_000, 0]
    assert report.final_bytes == expected.final_bytes == 4_000


def test_a_save_of_two_images_sharing_a_layer_reads_each(tmp_path: Path) -> None:
    path = write_tar(classic_files([build(A), build(B)]), tmp_path / "two.tar")
    first = audit_path(path, image="team/a:1")
    assert [layer.size_bytes for layer in first.layers] == figures(path).layer_file_bytes == [5_000, 3_000]
    assert [layer.size_bytes for layer in audit_path(path, image="team/b:1").layers] == [5_000, 7_000]


def test_indexes_nest_up_to_the_limit(tmp_path: Path) -> None:
    assert audit_path(oci_layout(tmp_path / "3", edit_index=nested(3))).total_bytes == 8_000
    with pytest.raises(ImgauditError, match="nest too deeply"):
        audit_path(oci_layout(tmp_path / "6", edit_index=nested(6)))


@pytest.mark.parametrize("index_json", [b"{broken", b"[" * 100_000, b'{"manifests": 3}'])
def test_docker_25_manifest_json_wins_over_a_broken_index_json(tmp_path: Path, index_json: bytes) -> None:
    files = layout_files([build(A)], docker_manifest=True)
    files["index.json"] = index_json
    assert audit_path(write_tar(files, tmp_path / "saved.tar")).total_bytes == 8_000


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("", "an empty image reference names nothing"),
        ("a" * 5_000, "longer than 391 characters"),  # was OSError: File name too long
        ("/tmp/" + "b" * 5_000 + ".tar", "no such archive or image layout"),
    ],
)
def test_references_no_registry_or_file_can_hold(tmp_path: Path, reference: str, expected: str) -> None:
    assert_one_line_error(run_cli([reference], cwd=tmp_path), expected)


def test_a_layer_blob_larger_than_its_descriptor_is_refused_before_it_is_read(tmp_path: Path) -> None:
    # A 4 GiB file (sparse: no disk used) in place of a 10 KB layer: hashed to its end, it
    # took 26 s here before failing its digest; its size alone refuses it.
    built = build(A)
    layout = write_dir(layout_files([built], docker_manifest=False), tmp_path / "layout")
    with (layout / blob(built.layer_blobs[1][0])).open("r+b") as handle:
        handle.truncate(4 * 2**30)
    result = run_cli([str(layout)], cwd=tmp_path)
    assert_one_line_error(result, "is 4294967296 bytes but its manifest says 10240")
    assert result.seconds < 5


@pytest.mark.parametrize("layout", ["classic", "oci"])
def test_a_blob_listed_many_times_is_read_once_and_merged_each_time(
    tmp_path: Path, layout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An outsider's manifest may list one small layer thousands of times: each listing is a
    # layer of the image (its bytes count every time), but the blob is read and hashed once.
    from imgaudit.sources.archive import ArchiveSource

    repeated = build(ImageSpec(layers=[BASE, *[Layer([file("x/y", 4_000), file("x/z", 10)])] * 40]))
    path = (
        write_tar(classic_files([repeated]), tmp_path / "repeated.tar")
        if layout == "classic"
        else write_dir(layout_files([repeated], docker_manifest=False), tmp_path / "repeated")
    )
    opened: list[int] = []
    open_layer = ArchiveSource.open_layer
    monkeypatch.setattr(
        ArchiveSource, "open_layer", lambda self, index: opened.append(index) or open_layer(self, index)
    )
    report, expected = audit_path(path), figures(path)
    assert opened == [0, 1]
    assert (
        [layer.size_bytes for layer in report.layers] == expected.layer_file_bytes == [5_000] + [4_010] * 40
    )
    assert [layer.wasted_bytes for layer in report.layers] == expected.wasted_bytes
    assert report.final_bytes == expected.final_bytes == 9_010


def test_more_layers_than_the_limit_is_one_line_and_exit_2(tmp_path: Path) -> None:
    many = build(ImageSpec(layers=[Layer([file(f"l{i}", 10)]) for i in range(5)]))
    path = write_tar(classic_files([many]), tmp_path / "many.tar")
    refused = run_cli(["audit", str(path)], cwd=tmp_path, env={"IMGAUDIT_MAX_LAYERS": "4"})
    assert_one_line_error(
        refused, "the image lists 5 layers; more than 4 are refused (raise it with IMGAUDIT_MAX_LAYERS)"
    )
    allowed = run_cli(
        ["audit", str(path), "--format", "json"], cwd=tmp_path, env={"IMGAUDIT_MAX_LAYERS": "5"}
    )
    assert allowed.exit_code == 0, allowed.stderr
    assert json.loads(allowed.stdout)["image"]["total_bytes"] == 50

"""A classic `docker save` names its layers `<id>/layer.tar`, not by digest: the config's
diff_id is then the only digest of the layer, and it is checked as the layer is read (the
OCI spec: a diff_id is the digest of the uncompressed layer), as blobs named by their
digest are checked in layouts and registries."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import zstandard

from imgaudit.errors import LayerError
from tests.conftest import audit_path
from tests.support.imagespec import ImageSpec, Layer, build, classic_files, file, layer_tar, write_tar

SPEC = ImageSpec(
    layers=[
        Layer([file("bin/busybox", 40_000)]),
        Layer([file("app/main.py", 3_000), file("tmp/cache", 9_000)], "COPY . /app"),
    ]
)


def _classic(tmp_path: Path, replace: dict[int, bytes] | None = None) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    files = classic_files([build(SPEC)])
    layers = json.loads(files["manifest.json"])[0]["Layers"]
    for index, blob in (replace or {}).items():
        files[layers[index]] = blob
    return write_tar(files, tmp_path / "saved.tar")


def test_an_intact_classic_archive_reads_whole(tmp_path: Path) -> None:
    assert audit_path(_classic(tmp_path)).total_bytes == 52_000


@pytest.mark.parametrize("index", [0, 1])
def test_a_layer_tar_that_is_not_its_diff_id_is_refused(tmp_path: Path, index: int) -> None:
    # A well-formed tar, but not the layer the config names: corrupt or tampered.
    other = layer_tar(Layer([file("bin/busybox", 40_000, seed=9)]))
    with pytest.raises(
        LayerError, match=r"layer.tar \(diff_id sha256:[0-9a-f]{12}\) does not match its digest"
    ):
        audit_path(_classic(tmp_path, {index: other}))


def test_a_layer_tar_with_bytes_after_its_end_is_refused(tmp_path: Path) -> None:
    # The walk stops at the end-of-archive blocks; the digest covers every byte of the file.
    intact = layer_tar(SPEC.layers[1])
    with pytest.raises(LayerError, match="does not match its digest"):
        audit_path(_classic(tmp_path, {1: intact + b"\0" * 512 + b"appended"}))


@pytest.mark.parametrize("compress", [lambda d: gzip.compress(d, mtime=0), zstandard.compress])
def test_a_compressed_layer_tar_is_checked_as_it_is_inflated(tmp_path: Path, compress: Any) -> None:
    # crane's tarballs (and some other tools) store `<hex>.tar.gz` in a classic layout.
    intact = compress(layer_tar(SPEC.layers[1]))
    assert audit_path(_classic(tmp_path / "intact", {1: intact})).total_bytes == 52_000
    other = compress(layer_tar(Layer([file("app/main.py", 3_000, seed=5)])))
    with pytest.raises(LayerError, match="does not match its digest"):
        audit_path(_classic(tmp_path / "other", {1: other}))


def test_a_crane_style_tarball_reads(tmp_path: Path) -> None:
    # `crane pull --format tarball` (go-containerregistry's tarball.Write): the config is named
    # `sha256:<hex>`, each layer `<hex>.tar.gz`, gzip-compressed, in a classic manifest.json.
    built = build(SPEC, "gzip")
    files = {built.config_digest: built.config}
    layers = []
    for digest, data in built.layer_blobs:
        layers.append(digest.split(":", 1)[1] + ".tar.gz")
        files[layers[-1]] = data
    entry = {"Config": built.config_digest, "RepoTags": ["example/crane:1"], "Layers": layers}
    files["manifest.json"] = json.dumps([entry]).encode()
    report = audit_path(write_tar(files, tmp_path / "crane.tar"))
    assert [layer.size_bytes for layer in report.layers] == [40_000, 12_000]


def test_a_layer_that_lies_is_neither_cached_nor_reported(tmp_path: Path, layer_cache: Path) -> None:
    # The digests are checked beside the audit and settled before the report: a lying layer
    # (here the lower one, whose upper neighbour is intact) leaves no cache entry at all.
    other = layer_tar(Layer([file("bin/busybox", 40_000, seed=9)]))
    with pytest.raises(LayerError, match="does not match its digest"):
        audit_path(_classic(tmp_path, {0: other}))
    assert not [p for p in layer_cache.rglob("*") if p.is_file() and p.suffix in (".layer", ".record")]
    assert audit_path(_classic(tmp_path / "intact")).total_bytes == 52_000  # cached now
    assert list(layer_cache.rglob("*.layer"))


def test_a_lower_layer_that_lies_is_the_error_before_a_broken_upper_one(tmp_path: Path) -> None:
    other = layer_tar(Layer([file("bin/busybox", 40_000, seed=9)]))
    broken = layer_tar(SPEC.layers[1])[:1000]  # cut inside a member: the walk fails there
    with pytest.raises(LayerError, match=r"layer.tar \(diff_id sha256:[0-9a-f]{12}\) does not match"):
        audit_path(_classic(tmp_path, {0: other, 1: broken}))
    with pytest.raises(LayerError, match="truncated"):
        audit_path(_classic(tmp_path / "upper", {1: broken}))


def test_one_layer_read_alone_is_checked_too(tmp_path: Path) -> None:
    from imgaudit.audit import analyze_source_layer
    from imgaudit.sources.archive import open_path

    other = layer_tar(Layer([file("bin/busybox", 40_000, seed=9)]))
    with (
        open_path(_classic(tmp_path, {0: other}), None, None, lambda _m: None) as source,
        pytest.raises(LayerError, match="does not match its digest"),
    ):
        analyze_source_layer(source, source.layers[0])

"""Every archive layout and compression gives the same audit; selection and bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from imgaudit.errors import SourceError
from imgaudit.report.json import to_dict
from tests.conftest import AuditSpec, audit_path
from tests.support.imagespec import (
    COMPRESSIONS,
    LAYOUTS,
    File,
    ImageSpec,
    Layer,
    Whiteout,
    build,
    file,
    layout_files,
    write_dir,
    write_image,
    write_tar,
)


def sample_spec(tag: str = "example/app:1.0", **overrides: object) -> ImageSpec:
    layers = [
        Layer([File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"), file("bin/sh", 4000)], "ADD rootfs /"),
        Layer([file("root/.cache/pip/http-v2/a/b/c", 2500), file("tmp/build/x", 900)], "RUN pip install x"),
        Layer([Whiteout("tmp/build"), file("app/main.py", 120)], "COPY . /app"),
    ]
    return ImageSpec(layers=layers, tags=[tag], **overrides)  # type: ignore[arg-type]


def _without_compressed(value: object) -> object:
    """Compressed-size estimates legitimately depend on the compression; nothing else may."""
    if isinstance(value, dict):
        return {k: _without_compressed(v) for k, v in value.items() if "compressed" not in k}
    if isinstance(value, list):
        return [_without_compressed(v) for v in value]
    return value


def comparable(report_dict: dict[str, object]) -> dict[str, object]:
    data: dict[str, Any] = _without_compressed(json.loads(json.dumps(report_dict)))  # type: ignore[assignment]
    data["image"].pop("source")
    data["image"].pop("digest")
    data.pop("duration_seconds")
    for layer in data["layers"]:
        for key in ("digest", "blob_bytes", "media_type"):
            layer.pop(key)
    return data


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_every_layout_and_compression_gives_the_same_report(
    audit_spec: AuditSpec, layout: str, compression: str
) -> None:
    reference = comparable(to_dict(audit_spec(sample_spec())))
    report = audit_spec(sample_spec(), layout=layout, compression=compression)
    assert comparable(to_dict(report)) == reference
    assert report.total_bytes == 4000 + len(b"root:x:0:0:root:/root:/bin/sh\n") + 2500 + 900 + 120
    assert report.wasted_bytes == 900
    expected_kind = {"oci-layout": "oci-layout", "oci-archive": "oci-archive"}.get(layout, "docker-archive")
    assert report.image.origin.kind == expected_kind


def test_oci_sources_report_the_manifest_digest(audit_spec: AuditSpec) -> None:
    built = build(sample_spec())
    for layout in ("docker-oci", "oci-archive", "oci-layout"):
        assert audit_spec(sample_spec(), layout=layout).image.manifest_digest == built.manifest_digest
    assert audit_spec(sample_spec()).image.image_id == built.config_digest


@pytest.mark.parametrize("layout", ["docker-classic", "docker-oci", "oci-archive"])
def test_an_archive_with_several_images_needs_a_choice(tmp_path: Path, layout: str) -> None:
    path = write_image(
        [sample_spec("team/api:1.0"), sample_spec("team/worker:2.0", env={"A": "1"})],
        tmp_path / "two.tar",
        layout,
    )
    with pytest.raises(SourceError, match=r"team/api:1\.0.*team/worker:2\.0"):
        audit_path(path)
    assert audit_path(path, image="team/worker:2.0").image.reference == "team/worker:2.0"
    with pytest.raises(SourceError, match="no image named 'team/nope'"):
        audit_path(path, image="team/nope")


def test_short_names_match_docker_hub_style_tags(tmp_path: Path) -> None:
    path = write_image(sample_spec("docker.io/library/python:latest"), tmp_path / "one.tar", "docker-oci")
    assert audit_path(path, image="python").image.reference == "python"


def test_a_multi_platform_index_picks_the_requested_platform(tmp_path: Path) -> None:
    amd = build(sample_spec(architecture="amd64"))
    arm = build(sample_spec(architecture="arm64", variant="v8", env={"ARCH": "arm"}))
    path = write_dir(
        layout_files([amd, arm], docker_manifest=False, multi_platform_name="team/app:1"), tmp_path / "l"
    )
    assert audit_path(path, platform="linux/arm64").image.architecture == "arm64"
    assert audit_path(path, platform="linux/amd64").image.architecture == "amd64"
    with pytest.raises(SourceError, match=r"available: linux/amd64, linux/arm64/v8"):
        audit_path(path, platform="linux/s390x")


def test_a_partial_multi_platform_export_reads_the_platform_it_holds(tmp_path: Path) -> None:
    """containerd (`docker save` with the containerd store, `ctr export`) keeps the whole index
    but only the blobs of the platforms it pulled."""
    amd = build(sample_spec(architecture="amd64"))
    arm = build(sample_spec(architecture="arm64", variant="v8", env={"ARCH": "arm"}))
    files = layout_files([amd, arm], docker_manifest=False, multi_platform_name="team/app:1")
    for digest in (arm.manifest_digest, arm.config_digest):
        del files["blobs/" + digest.replace(":", "/")]
    path = write_dir(files, tmp_path / "partial")
    assert audit_path(path).image.architecture == "amd64"
    with pytest.raises(SourceError, match=r"no image for platform linux/arm64; available: linux/amd64"):
        audit_path(path, platform="linux/arm64")


def _tamper(tmp_path: Path, edit: object) -> Path:
    files = layout_files([build(sample_spec())], docker_manifest=True)
    edit(files)  # type: ignore[operator]
    return write_tar(files, tmp_path / "bad.tar")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.pop("manifest.json") and f.pop("index.json"), "no manifest.json or index.json"),
        (lambda f: f.__setitem__("manifest.json", b"{not json"), "manifest.json is not valid JSON"),
        (lambda f: f.__setitem__("manifest.json", b'[{"Config": "x"}]'), "without Layers"),
        (
            lambda f: f.__setitem__("manifest.json", b'[{"Config": "../../etc/passwd", "Layers": []}]'),
            "config blob",
        ),
        (
            lambda f: f.__setitem__(
                "manifest.json", b'[{"Config": "c.json", "Layers": ["../../../etc/shadow"]}]'
            ),
            "outside the archive",
        ),
        (lambda f: [f.pop(k) for k in list(f) if k.startswith("blobs/") and len(f[k]) > 3000], "is missing"),
    ],
)
def test_malformed_archives_are_source_errors(tmp_path: Path, edit: object, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        audit_path(_tamper(tmp_path, edit))


def test_a_layout_blob_that_leads_outside_the_layout_is_refused(tmp_path: Path) -> None:
    built = build(sample_spec())
    layout = write_dir(layout_files([built], docker_manifest=False), tmp_path / "layout")
    secret = tmp_path / "secret"
    secret.write_bytes(b"outside")
    digest = built.layer_blobs[0][0].split(":")[1]
    blob = layout / "blobs" / "sha256" / digest
    blob.unlink()
    os.symlink(secret, blob)
    with pytest.raises(SourceError, match=r"outside the layout|is missing"):
        audit_path(layout)


def test_a_compressed_archive_is_named_as_such(tmp_path: Path) -> None:
    import gzip

    plain = write_image(sample_spec(), tmp_path / "image.tar")
    packed = tmp_path / "image.tar.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    with pytest.raises(SourceError, match="decompress it first"):
        audit_path(packed)


def test_an_annotated_base_held_in_the_same_layout_decides_the_boundary(tmp_path: Path) -> None:
    base_spec = ImageSpec(layers=sample_spec().layers[:2], tags=["example/base:1"])
    base = build(base_spec)
    annotations = {
        "org.opencontainers.image.base.digest": base.manifest_digest,
        "org.opencontainers.image.base.name": "example/base:1",
    }
    # History alone would put the boundary elsewhere (no CMD): the annotation must win.
    image = build(
        sample_spec(
            annotations=annotations,
            history=[(layer.created_by, False) for layer in base_spec.layers] + [("COPY . /app", False)],
        )
    )
    layout = write_dir(layout_files([base, image], docker_manifest=False), tmp_path / "layout")
    report = audit_path(layout, image="example/app:1.0")
    assert (report.base.method.value, report.base.layer_count, report.base.name) == (
        "annotation",
        2,
        "example/base:1",
    )
    # Without the base at hand, the annotation only names the base.
    alone = write_dir(layout_files([image], docker_manifest=False), tmp_path / "alone")
    report = audit_path(alone)
    assert (report.base.method.value, report.base.name) == ("first-layer", "example/base:1")

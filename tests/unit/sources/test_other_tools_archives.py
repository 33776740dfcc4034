"""Archives and layouts as other tools write them (tests/support/othertools.py) read like
the engines read them: shared layers stored as symlinks, index names, duplicate and
conflicting index entries, images chosen by digest, OCI artifacts named as such."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from imgaudit.errors import SourceError
from tests.conftest import audit_path
from tests.support.imagespec import ImageSpec, Layer, build, file, write_dir, write_tar
from tests.support.othertools import (
    HELM_CONFIG_TYPE,
    IndexEntry,
    blob_path,
    helm_chart_layout,
    oci_layout,
    old_docker_save,
    write_entries,
)

BASE = Layer([file("bin/sh", 4000)], "ADD rootfs /")


def spec(app_size: int, tag: str = "example/app:1", architecture: str = "amd64") -> ImageSpec:
    return ImageSpec(
        layers=[BASE, Layer([file("app/main.py", app_size)], "COPY . /app")],
        tags=[tag],
        architecture=architecture,
    )


def test_a_layer_shared_through_a_symlink_by_older_docker_save(tmp_path: Path) -> None:
    first, second = build(spec(100, "team/a:1")), build(spec(200, "team/b:1"))
    entries = old_docker_save([first, second], ["team/a:1", "team/b:1"])
    assert [e for e in entries if e.link_to], "the fixture stores the shared base layer as a symlink"
    archive = write_entries(entries, tmp_path / "both.tar")
    report = audit_path(archive, image="team/b:1")
    assert report.total_bytes == 4000 + 200
    assert report.image.reference == "team/b:1"


def test_a_layer_symlink_that_leaves_the_archive_is_not_followed(tmp_path: Path) -> None:
    first = build(spec(100, "team/a:1"))
    entries = old_docker_save([first], ["team/a:1"])
    layer = next(e for e in entries if e.name.endswith("/layer.tar"))
    layer.data, layer.link_to = b"", "../../../../etc/passwd"
    with pytest.raises(SourceError, match="is missing"):
        audit_path(write_entries(entries, tmp_path / "escape.tar"))


def test_the_name_in_index_json_names_a_nested_image(tmp_path: Path) -> None:
    """containerd exports `index.json` -> nested index -> manifests; the manifests' own
    ref.name annotation (here "other") does not replace the name the user exported."""
    files = oci_layout(
        [
            IndexEntry(
                [build(spec(100))],
                names={
                    "io.containerd.image.name": "docker.io/team/app:1.0",
                    "org.opencontainers.image.ref.name": "1.0",
                },
                nested_names={"org.opencontainers.image.ref.name": "other"},
            )
        ]
    )
    layout = write_dir(files, tmp_path / "layout")
    report = audit_path(layout)
    assert report.image.reference == "docker.io/team/app:1.0"
    assert audit_path(layout, image="team/app:1.0").total_bytes == 4100
    assert audit_path(layout, image="other").total_bytes == 4100  # still matches, never names it


def test_one_manifest_listed_twice_is_one_image(tmp_path: Path) -> None:
    image = build(spec(100))
    files = oci_layout(
        [
            IndexEntry([image], names={"org.opencontainers.image.ref.name": "1.0"}),
            IndexEntry([image], names={"org.opencontainers.image.ref.name": "latest"}),
        ]
    )
    archive = write_tar(files, tmp_path / "twice.tar")
    assert audit_path(archive).image.manifest_digest == image.manifest_digest
    assert audit_path(archive, image="latest").total_bytes == 4100


def test_two_manifests_under_one_tag_are_chosen_by_digest(tmp_path: Path) -> None:
    old, new = build(spec(100)), build(spec(300))
    files = oci_layout(
        [
            IndexEntry([old], names={"org.opencontainers.image.ref.name": "1.0"}),
            IndexEntry([new], names={"org.opencontainers.image.ref.name": "1.0"}),
        ]
    )
    archive = write_tar(files, tmp_path / "pushed-twice.tar")
    with pytest.raises(SourceError, match="choose one with --image"):
        audit_path(archive, image="1.0")
    assert audit_path(archive, image=new.manifest_digest).total_bytes == 4300
    assert audit_path(archive, image=f"1.0@{old.manifest_digest}").total_bytes == 4100
    # the config digest is the image ID `docker images` shows
    assert audit_path(archive, image=new.config_digest).total_bytes == 4300
    with pytest.raises(SourceError, match="no image with digest"):
        audit_path(archive, image="sha256:" + "0" * 64)


def test_an_image_is_chosen_by_digest_in_a_docker_archive_too(tmp_path: Path) -> None:
    first, second = build(spec(100, "team/a:1")), build(spec(200, "team/b:1"))
    archive = write_entries(old_docker_save([first, second], ["team/a:1", "team/b:1"]), tmp_path / "x.tar")
    assert audit_path(archive, image=first.config_digest).image.reference == first.config_digest


def test_a_helm_chart_is_named_an_oci_artifact(tmp_path: Path) -> None:
    layout = write_dir(helm_chart_layout(b"\x1f\x8b chart bytes", "0.1.0"), tmp_path / "chart")
    with pytest.raises(
        SourceError, match=re.escape(f"this is an OCI artifact ({HELM_CONFIG_TYPE}), not an image")
    ):
        audit_path(layout)


def test_a_layout_blob_that_does_not_match_its_digest_is_refused(tmp_path: Path) -> None:
    image = build(spec(100))
    files = oci_layout([IndexEntry([image], names={"org.opencontainers.image.ref.name": "1"})])
    digest, blob = image.layer_blobs[1]
    files[blob_path(digest)] = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(Exception, match="does not match its digest"):
        audit_path(write_dir(files, tmp_path / "tampered"))
    config = json.loads(files[blob_path(image.config_digest)])
    config["os"] = "windows"
    files[blob_path(image.config_digest)] = json.dumps(config).encode()
    with pytest.raises(SourceError, match="does not match its digest"):
        audit_path(write_dir(files, tmp_path / "tampered-config"))

"""Archives written by the real tools (umoci 0.4.7, skopeo 1.9.3, buildah 1.28.2, committed with the
script that made them: tests/assets/other-tools/make.sh) are audited, and every byte figure
agrees with an independent count (tests/support/independent.py: Python's tarfile)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import audit_path
from tests.support.independent import figures

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "other-tools"
ARCHIVES = {
    "umoci-layout": "oci-layout",  # umoci's own layout: gzip layers without tar padding or footer
    "skopeo-docker-archive.tar": "docker-archive",  # layers as <hex>.tar, <id>/layer.tar symlinks
    "skopeo-oci-archive.tar": "oci-archive",
    "skopeo-oci-zstd": "oci-layout",  # zstd layers
    "skopeo-dir": "skopeo-dir",  # skopeo's dir: transport
    "skopeo-dir-v2s2": "skopeo-dir",  # the same with a Docker v2s2 manifest (podman save --format docker-dir)
    "buildah-docker-archive.tar": "docker-archive",  # buildah's own build and push
    "buildah-oci-archive.tar": "oci-archive",
}
UMOCI_IMAGE = [name for name in ARCHIVES if not name.startswith("buildah")]


@pytest.mark.parametrize("name", list(ARCHIVES))
def test_real_tools_archives_match_an_independent_count(name: str) -> None:
    report = audit_path(ASSETS / name)
    expected = figures(ASSETS / name)
    assert report.image.origin.kind == ARCHIVES[name]
    assert [layer.size_bytes for layer in report.layers] == expected.layer_file_bytes
    assert [layer.wasted_bytes for layer in report.layers] == expected.wasted_bytes
    assert report.final_bytes == expected.final_bytes
    assert report.total_bytes == sum(expected.layer_file_bytes)


def test_the_real_tools_agree_with_each_other() -> None:
    reports = [audit_path(ASSETS / name) for name in UMOCI_IMAGE]
    assert len({(r.total_bytes, r.final_bytes, tuple(r.wasted)) for r in reports}) == 1


def test_the_whiteout_and_the_opaque_directory_umoci_wrote_are_waste() -> None:
    report = audit_path(ASSETS / "umoci-layout")
    wasted = {w.path: w.bytes for w in report.wasted}
    assert wasted["/tmp/cache.bin"] == 4000  # `umoci insert --whiteout`
    # `umoci insert --opaque` over /etc: the base's files there are gone (passwd and its
    # hard link are one inode, charged once)
    assert wasted.get("/etc/os-release") == 18
    assert sum(wasted.values()) == 4000 + 18 + 30


def test_a_file_buildah_copied_twice_is_waste_once() -> None:
    for name in ("buildah-docker-archive.tar", "buildah-oci-archive.tar"):
        report = audit_path(ASSETS / name)
        assert [(w.path, w.bytes) for w in report.wasted] == [
            ("/app", 3000)
        ]  # overwritten files: by directory

"""Archives written by the real tools — `docker save`, skopeo's OCI archive and layout, with
gzip and zstd layers — give the same audit, and the audit agrees with tarfile's own view."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from imgaudit.report.json import to_dict
from tests.conftest import audit_path
from tests.integration.conftest import Engine, unavailable

pytestmark = pytest.mark.integration

DOCKERFILE = """\
FROM {base}
RUN mkdir -p /data/cache && dd if=/dev/zero of=/data/cache/blob bs=1024 count=300 2>/dev/null \\
 && echo hello > /data/keep.txt && ln /data/keep.txt /data/keep-link.txt
COPY app.txt /app/app.txt
RUN rm -rf /data/cache && echo changed > /data/keep.txt
CMD ["sh"]
"""


@pytest.fixture(scope="module")
def saved_image(
    docker_engine: Engine, busybox_base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    context = tmp_path_factory.mktemp("formats-context")
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=busybox_base_image))
    (context / "app.txt").write_text("the app\n" * 100)
    docker_engine.build(context, "imgaudit-test/formats:1", network_host=False)
    return docker_engine.save(
        "imgaudit-test/formats:1", tmp_path_factory.mktemp("formats") / "docker-save.tar"
    )


def _skopeo(*args: str) -> None:
    if shutil.which("skopeo") is None:
        unavailable("skopeo is not installed")
    subprocess.run(["skopeo", "--insecure-policy", *args], check=True, capture_output=True)


def _comparable(path: Path, **kwargs: str) -> dict[str, object]:
    data = json.loads(json.dumps(to_dict(audit_path(path, **kwargs))))
    data["image"].pop("source")
    data["image"].pop("digest")
    data["image"].pop("reference")
    data["image"].pop("id")  # skopeo re-serialises the config as an OCI config: a new digest
    data.pop("duration_seconds")
    for layer in data["layers"]:
        for key in ("digest", "blob_bytes", "media_type"):
            layer.pop(key)
    data.pop("plan", None)  # compressed-size estimates differ by compression
    for finding in data.get("findings", []):
        finding.pop("estimated_savings_compressed_bytes", None)
    return data


def test_real_tool_formats_give_the_same_audit(saved_image: Path, tmp_path: Path) -> None:
    reference = _comparable(saved_image)
    source = f"docker-archive:{saved_image}"
    targets = {
        "oci-archive gzip": (
            tmp_path / "oci.tar",
            ["copy", source, f"oci-archive:{tmp_path / 'oci.tar'}:formats:1"],
        ),
        "oci-archive zstd": (
            tmp_path / "oci-zstd.tar",
            [
                "copy",
                "--dest-compress-format",
                "zstd",
                "--dest-compress",
                source,
                f"oci-archive:{tmp_path / 'oci-zstd.tar'}:formats:1",
            ],
        ),
        "oci layout": (tmp_path / "layout", ["copy", source, f"oci:{tmp_path / 'layout'}:formats:1"]),
    }
    for label, (path, command) in targets.items():
        _skopeo(*command)
        assert _comparable(path) == reference, label


def test_real_save_matches_an_independent_tarfile_sum(saved_image: Path) -> None:
    report = audit_path(saved_image)
    with tarfile.open(saved_image) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        shipped = []
        for name in manifest[0]["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(name)) as layer:
                shipped.append(sum(m.size for m in layer if m.isreg()))
    assert [layer.size_bytes for layer in report.layers] == shipped
    assert report.total_bytes == sum(shipped)
    # The deleted directory is waste, charged to the RUN that made it (dive 0.13 counts none).
    blob = 300 * 1024
    assert any(w.path == "/data/cache" and w.bytes == blob and w.shipped_by == 1 for w in report.wasted)
    assert report.layers[1].wasted_bytes >= blob
    assert report.base.layer_count == 1
    assert (
        report.layers[2].descriptor.created_by is not None
        and "COPY" in report.layers[2].descriptor.created_by
    )

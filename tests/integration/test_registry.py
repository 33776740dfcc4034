"""Images read from a real registry (Debian's docker-registry) with no engine involved."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli import comparable, run_imgaudit
from tests.integration.conftest import BUSYBOX_BASE_TAG, Engine
from tests.integration.registry import PASSWORD, USER, Registry, put_manifest, upload
from tests.support.imagespec import ImageSpec, Layer, build, file, write_image

pytestmark = pytest.mark.integration
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/imgaudit-no-engine.sock"}


@pytest.fixture(scope="module")
def pushed(
    docker_engine: Engine, app_image: str, plain_registry: Registry, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, Any]]:
    """The app image pushed by the engine, and the audit of its `docker save` archive."""
    for local, remote in ((app_image, "imgaudit/app:1"), (BUSYBOX_BASE_TAG, "imgaudit/busybox:1")):
        # The registry keeps the image; the engine's tag goes again, or a later engine test would
        # find it as the base image's name instead of BUSYBOX_BASE_TAG.
        for command in (
            ["tag", local, plain_registry.ref(remote)],
            ["push", plain_registry.ref(remote)],
            ["rmi", plain_registry.ref(remote)],
        ):
            subprocess.run(["docker", "-H", docker_engine.host, *command], check=True, capture_output=True)
    archive = docker_engine.save(app_image, tmp_path_factory.mktemp("saved") / "app.tar")
    return "imgaudit/app:1", run_imgaudit([str(archive)], NO_ENGINE).json()


@pytest.mark.parametrize("form", ["registry://{host}/{name}", "{host}/{name}"])
def test_registry_image_equals_its_archive(
    plain_registry: Registry, pushed: tuple[str, dict[str, Any]], form: str
) -> None:
    name, archived = pushed
    result = run_imgaudit([form.format(host=plain_registry.host, name=name)], NO_ENGINE)
    report = result.json()
    assert comparable(report) == comparable(archived)
    source = report["image"]["source"]
    assert source["kind"] == "registry"
    assert source["digest"].startswith("sha256:") and report["image"]["digest"] == source["digest"]
    blobs = [layer["blob_bytes"] for layer in report["layers"]]
    assert all(size > 0 for size in blobs)
    assert report["image"]["compressed_bytes"] == sum(blobs)
    # The engine pushed gzip: what a pull transfers is less than what the layers hold.
    assert report["image"]["compressed_bytes"] < report["image"]["total_bytes"]


def _password(user: str, password: str) -> tuple[list[str], str]:
    return ["--username", user, "--password-stdin"], password + "\n"


@pytest.mark.parametrize("kind", ["basic", "token"])
def test_authenticated_registries(
    request: pytest.FixtureRequest, kind: str, pushed: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    registry: Registry = request.getfixturevalue(f"{kind}_registry")
    name, archived = pushed
    reference = f"registry://{registry.ref(name)}"
    flags, stdin = _password(USER, PASSWORD)
    assert comparable(run_imgaudit([reference, *flags], NO_ENGINE, stdin=stdin).json()) == comparable(
        archived
    )
    # The same credentials from the Docker config, as `docker login` stores them.
    import base64

    config = {"auths": {registry.host: {"auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    from_config = run_imgaudit([reference], {**NO_ENGINE, "DOCKER_CONFIG": str(tmp_path)})
    assert comparable(from_config.json()) == comparable(archived)


@pytest.mark.parametrize("kind", ["basic", "token"])
def test_wrong_password_is_one_line(
    request: pytest.FixtureRequest, kind: str, pushed: tuple[str, dict[str, Any]]
) -> None:
    registry: Registry = request.getfixturevalue(f"{kind}_registry")
    flags, stdin = _password(USER, "wrong-password-xyz")
    result = run_imgaudit([f"registry://{registry.ref(pushed[0])}", *flags], NO_ENGINE, stdin=stdin, expect=2)
    assert "authentication failed" in result.error_line
    assert "wrong-password-xyz" not in result.stderr + result.stdout
    anonymous = run_imgaudit([f"registry://{registry.ref(pushed[0])}"], NO_ENGINE, expect=2)
    assert "requires authentication" in anonymous.error_line


def test_base_flag_resolves_through_the_registry(
    plain_registry: Registry, pushed: tuple[str, dict[str, Any]]
) -> None:
    base = plain_registry.ref("imgaudit/busybox:1")
    report = run_imgaudit([plain_registry.ref(pushed[0]), "--base", base], NO_ENGINE).json()
    assert (report["base"]["method"], report["base"]["layer_count"], report["base"]["name"]) == (
        "flag",
        1,
        base,
    )
    assert [layer["is_base"] for layer in report["layers"]] == [True, False, False]


def test_missing_tag_is_one_line(plain_registry: Registry, pushed: tuple[str, dict[str, Any]]) -> None:
    result = run_imgaudit([plain_registry.ref("imgaudit/app:no-such-tag")], NO_ENGINE, expect=2)
    assert "imgaudit/app:no-such-tag is not in the registry" in result.error_line


TWO_PLATFORMS = [
    ImageSpec(
        layers=[Layer([file("bin/tool", 30_000)]), Layer([file("app/x", 5_000)])], architecture="amd64"
    ),
    ImageSpec(layers=[Layer([file("bin/tool", 20_000, seed=3)])], architecture="arm64", variant="v8"),
]


@pytest.fixture(scope="module")
def two_platform_index(plain_registry: Registry) -> str:
    """An OCI index of two platforms, uploaded blob by blob as a registry client pushes it."""
    repository = "imgaudit/multi"
    descriptors = []
    for spec in TWO_PLATFORMS:
        image = build(spec, "gzip")
        upload(plain_registry, repository, image.config, image.config_digest)
        for digest, blob in image.layer_blobs:
            upload(plain_registry, repository, blob, digest)
        put_manifest(
            plain_registry,
            repository,
            image.manifest_digest,
            image.manifest,
            "application/vnd.oci.image.manifest.v1+json",
        )
        platform = {
            "os": spec.os,
            "architecture": spec.architecture,
            **({"variant": spec.variant} if spec.variant else {}),
        }
        descriptors.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": image.manifest_digest,
                "size": len(image.manifest),
                "platform": platform,
            }
        )
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descriptors}
    ).encode()
    put_manifest(plain_registry, repository, "1", index, "application/vnd.oci.image.index.v1+json")
    return plain_registry.ref(f"{repository}:1")


@pytest.mark.parametrize(
    ("platform", "spec"), [("linux/amd64", TWO_PLATFORMS[0]), ("linux/arm64", TWO_PLATFORMS[1])]
)
def test_index_platforms_equal_their_archives(
    two_platform_index: str, platform: str, spec: ImageSpec, tmp_path: Path
) -> None:
    report = run_imgaudit([two_platform_index, "--platform", platform], NO_ENGINE).json()
    archived = run_imgaudit(
        [str(write_image(spec, tmp_path / "a.tar", "oci-archive", "gzip"))], NO_ENGINE
    ).json()
    assert comparable(report) == comparable(archived)
    assert report["image"]["architecture"] == spec.architecture
    assert report["image"]["source"]["index_digest"] != report["image"]["digest"]


def test_missing_platform_lists_the_available_ones(two_platform_index: str) -> None:
    result = run_imgaudit([two_platform_index, "--platform", "linux/s390x"], NO_ENGINE, expect=2)
    assert "no image for platform linux/s390x; available: linux/amd64, linux/arm64/v8" in result.error_line

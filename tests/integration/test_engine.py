"""Images read from a real Docker engine: streamed `docker save`, equal to the archive audit."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli import comparable, run_imgaudit
from tests.integration.conftest import BUSYBOX_BASE_TAG, Engine
from tests.integration.registry import Registry

pytestmark = pytest.mark.integration


def _engine_env(engine: Engine) -> dict[str, str]:
    return {"DOCKER_HOST": engine.host}


def _without_base(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in comparable(report).items() if k != "base"}


@pytest.fixture(scope="module")
def archived(
    docker_engine: Engine, app_image: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    archive = docker_engine.save(app_image, tmp_path_factory.mktemp("saved") / "app.tar")
    return run_imgaudit([str(archive)], _engine_env(docker_engine)).json()


@pytest.mark.parametrize("form", ["{name}", "docker://{name}"])
def test_engine_image_equals_its_archive(
    docker_engine: Engine, app_image: str, archived: dict[str, Any], form: str
) -> None:
    report = run_imgaudit([form.format(name=app_image)], _engine_env(docker_engine)).json()
    assert _without_base(report) == _without_base(archived)
    assert report["image"]["reference"] == app_image
    source = report["image"]["source"]
    assert (source["kind"], source["location"]) == ("docker-engine", docker_engine.host)
    assert source["image_id"] == report["image"]["id"]
    # Found in the engine without --base: the tagged image whose layers start this one.
    assert report["base"]["method"] == "local-image"
    assert report["base"]["name"] == BUSYBOX_BASE_TAG
    assert report["base"]["layer_count"] == 1
    assert report["layers"][1]["wasted_bytes"] == 96 * 1024  # /data/blob, deleted by layer 2
    assert report["image"]["compressed_bytes"] is None  # nothing was pulled


def test_base_flag_resolves_through_the_engine(docker_engine: Engine, app_image: str) -> None:
    report = run_imgaudit([app_image, "--base", BUSYBOX_BASE_TAG], _engine_env(docker_engine)).json()
    assert (report["base"]["method"], report["base"]["name"], report["base"]["layer_count"]) == (
        "flag",
        BUSYBOX_BASE_TAG,
        1,
    )


def test_missing_image_with_pull_never(docker_engine: Engine) -> None:
    result = run_imgaudit(
        ["imgaudit-test/absent:never", "--pull=never"], _engine_env(docker_engine), expect=2
    )
    assert "no image 'imgaudit-test/absent:never' in the engine" in result.error_line


def test_unreachable_engine_is_one_line(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    result = run_imgaudit(["docker://imgaudit-test/anything:1"], env, expect=2)
    assert "no Docker engine answers" in result.error_line


def test_missing_image_is_pulled(docker_engine: Engine, app_image: str, plain_registry: Registry) -> None:
    remote = plain_registry.ref("imgaudit/pull-me:1")
    docker = ["docker", "-H", docker_engine.host]
    subprocess.run([*docker, "tag", app_image, remote], check=True, capture_output=True)
    subprocess.run([*docker, "push", remote], check=True, capture_output=True)
    subprocess.run([*docker, "rmi", remote], check=True, capture_output=True)  # untag only
    report = run_imgaudit([remote], _engine_env(docker_engine)).json()  # --pull=missing
    assert report["image"]["source"]["kind"] == "docker-engine"
    assert report["image"]["reference"] == remote
    inspected = subprocess.run(
        [*docker, "image", "inspect", "-f", "{{.Id}}", remote], capture_output=True, text=True
    )
    assert inspected.returncode == 0 and inspected.stdout.strip() == report["image"]["id"]
    subprocess.run([*docker, "rmi", remote], check=True, capture_output=True)  # leave no tag behind


def test_a_warm_engine_audit_asks_for_no_save(
    docker_engine: Engine, app_image: str, layer_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: with every layer cached, the image is inspected, never saved."""
    import json

    import docker.api.client
    from click.testing import CliRunner

    from imgaudit.cli import main

    cold = run_imgaudit([f"docker://{app_image}"], _engine_env(docker_engine)).json()  # fills the cache

    def no_save(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("docker save was asked for an image whose layers are all cached")

    monkeypatch.setenv("DOCKER_HOST", docker_engine.host)
    monkeypatch.setattr(docker.api.client.APIClient, "get_image", no_save)
    result = CliRunner().invoke(main, [f"docker://{app_image}", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert comparable(json.loads(result.stdout)) == comparable(cold)

"""Which source a reference opens; the CLI's registry options. No engine: DOCKER_HOST is a
socket that does not exist, so plain names go to the (in-process, loopback) registry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgaudit.cli import main
from imgaudit.errors import SourceError
from imgaudit.report.units import human_bytes
from imgaudit.sources.archive import ArchiveSource
from imgaudit.sources.registry import RegistrySource
from imgaudit.sources.resolve import open_reference
from tests.support.imagespec import ImageSpec, Layer, build, file, write_image
from tests.unit.sources.registry_server import FakeRegistry, serve

SPEC = ImageSpec(layers=[Layer([file("bin/tool", 12_345)])])


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    with serve(FakeRegistry(auth="basic")) as running:
        running.push("team/tool", "1", build(SPEC, "gzip"))
        yield running


def _open(reference: str) -> object:
    with open_reference(reference, image=None, platform=None, warn=lambda _: None) as source:
        return type(source)


def test_an_existing_path_is_an_archive(tmp_path: Path) -> None:
    assert _open(str(write_image(SPEC, tmp_path / "image.tar"))) is ArchiveSource


@pytest.mark.parametrize("reference", ["./missing.tar", "/no/such/dir", "image.tar"])
def test_a_missing_path_never_becomes_a_name(reference: str) -> None:
    with pytest.raises(SourceError, match="no such archive"):
        _open(reference)


def test_a_bad_name_fails_before_any_network() -> None:
    with pytest.raises(SourceError, match="invalid image reference"):
        _open("Not_A/Valid:Name:x")


def test_docker_scheme_needs_an_engine() -> None:
    with pytest.raises(SourceError, match="no Docker engine answers"):
        _open("docker://app:1")


def test_a_plain_name_without_an_engine_is_read_from_its_registry(
    registry: FakeRegistry, tmp_path: Path
) -> None:
    auth = {"auths": {registry.host: {"username": "alice", "password": "s3cret-pw"}}}
    (tmp_path / "docker-config").mkdir()
    (tmp_path / "docker-config" / "config.json").write_text(json.dumps(auth))
    assert _open(f"{registry.host}/team/tool:1") is RegistrySource
    assert _open(f"registry://{registry.host}/team/tool:1") is RegistrySource


def _cli(args: list[str], stdin: str = "") -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["audit", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_cli_password_from_stdin(registry: FakeRegistry) -> None:
    reference = f"registry://{registry.host}/team/tool:1"
    code, out, err = _cli(
        [reference, "--username", "alice", "--password-stdin", "--format", "json"], "s3cret-pw\n"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["image"]["total_bytes"] == 12_345
    assert report["image"]["source"]["kind"] == "registry"
    code, out, err = _cli([reference, "--username", "alice", "--password-stdin"], "nope-pw\n")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("imgaudit: error: authentication failed")
    assert "nope-pw" not in out + err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--username", "alice"],
            "--username needs --password-stdin (a password on the command line would leak)",
        ),
        (["--password-stdin"], "--password-stdin needs --username"),
    ],
)
def test_cli_credential_flags_go_together(args: list[str], message: str) -> None:
    code, _, err = _cli(["registry://127.0.0.1:1/x:1", *args])
    assert code == 2
    assert err.splitlines() == [f"imgaudit: error: {message}"]


def test_terminal_report_names_the_registry_and_the_pull_size(registry: FakeRegistry) -> None:
    blob = build(SPEC, "gzip").layer_blobs[0][1]
    code, out, err = _cli(
        [f"{registry.host}/team/tool:1", "--username", "alice", "--password-stdin", "--show", "image"],
        "s3cret-pw\n",
    )
    assert code == 0, err
    text = " ".join(out.split())
    assert f"source: registry {registry.host}/team/tool@sha256:" in text
    assert f"a pull transfers {human_bytes(len(blob))}" in text

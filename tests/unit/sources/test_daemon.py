"""The engine source over a fake SDK client that streams a real `docker save` layout."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import docker
import docker.errors
import pytest

from imgaudit.audit import audit
from imgaudit.errors import LayerError, SourceError
from imgaudit.model import BaseMethod, Report
from imgaudit.sources.daemon import EngineSource, PullPolicy
from tests.conftest import audit_path
from tests.support.imagespec import (
    ImageSpec,
    Layer,
    Whiteout,
    build,
    classic_files,
    file,
    layout_files,
    write_tar,
)

SPEC = ImageSpec(
    layers=[
        Layer([file("bin/busybox", 50_000)]),
        Layer([file("app/a", 20_000, seed=2), file("tmp/t", 9_000)], created_by="RUN build"),
        Layer([Whiteout("tmp/t")], created_by="RUN rm /tmp/t"),
    ],
    tags=("example/app:latest",),
)


class _FakeAPI:
    def __init__(self, archive: bytes, images: dict[str, dict[str, Any]], chunk: int) -> None:
        self.archive = archive
        self.images_by_ref = images
        self.chunk = chunk
        self.pulled: list[str] = []
        self.timeout = 5

    def inspect_image(self, reference: str) -> dict[str, Any]:
        for key, attrs in self.images_by_ref.items():
            names = (key, attrs["Id"], *attrs.get("RepoTags", []))
            if reference in names or f"{reference}:latest" in names:
                return attrs
        raise docker.errors.ImageNotFound(f"no such image: {reference}")

    def images(self) -> list[dict[str, Any]]:
        return [{"Id": a["Id"], "RepoTags": a.get("RepoTags")} for a in self.images_by_ref.values()]

    def get_image(self, image: str, chunk_size: int) -> Iterator[bytes]:
        assert image.startswith("sha256:")
        for start in range(0, len(self.archive), self.chunk):
            yield self.archive[start : start + self.chunk]

    def pull(self, reference: str, **_: Any) -> Iterator[bytes]:
        self.pulled.append(reference)
        yield b'{"status": "Pulling"}\r\n{"error": "pull'
        yield b' access denied"}\r\n'

    # The raw requests imgaudit makes to read the engine's JSON through its capped reader.
    def _url(self, template: str, *args: str) -> str:
        return template.format(*args)

    def _get(self, url: str, stream: bool) -> _FakeResponse:
        if url == "/images/json":
            return _FakeResponse(200, json.dumps(self.images()).encode())
        reference = url.removeprefix("/images/").removesuffix("/json")
        try:
            return _FakeResponse(200, json.dumps(self.inspect_image(reference)).encode())
        except docker.errors.ImageNotFound:
            return _FakeResponse(404, b'{"message": "no such image"}')

    def _raise_for_status(self, response: _FakeResponse) -> None:
        if response.status == 404:
            raise docker.errors.ImageNotFound("no such image")


class _FakeResponse:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.raw = io.BytesIO(body)
        self.raw.read = lambda size, decode_content: io.BytesIO.read(self.raw, size)  # type: ignore[method-assign]

    def close(self) -> None:
        pass


class FakeClient:
    def __init__(self, archive: bytes, images: dict[str, dict[str, Any]], chunk: int = 7_777) -> None:
        self.api = _FakeAPI(archive, images, chunk)
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _attrs(image_id: str, tags: list[str], diff_ids: list[str]) -> dict[str, Any]:
    return {"Id": image_id, "RepoTags": tags, "RootFS": {"Type": "layers", "Layers": diff_ids}}


def _engine_report(archive: bytes, images: dict[str, dict[str, Any]], reference: str, **kw: Any) -> Report:
    client = cast(docker.DockerClient, FakeClient(archive, images, **kw))
    with EngineSource(client, reference, None, PullPolicy.MISSING, None, lambda _: None) as source:
        return audit(source)


def _figures(report: Report) -> tuple[object, ...]:
    return (
        report.total_bytes,
        report.final_bytes,
        dict(report.categories),
        [(x.size_bytes, x.wasted_bytes, x.files, x.descriptor.diff_id) for x in report.layers],
        report.wasted,
    )


# SDK chunks of any size, down to one byte, must not change a thing.
@pytest.mark.parametrize(
    ("layout", "chunk"),
    [("docker-classic", 1), ("docker-classic", 7_777), ("docker-oci", 7_777), ("docker-oci", 1 << 20)],
)
def test_streamed_save_equals_the_archive(tmp_path: Path, layout: str, chunk: int) -> None:
    image = build(SPEC)
    files = (
        classic_files([image]) if layout == "docker-classic" else layout_files([image], docker_manifest=True)
    )
    path = write_tar(files, tmp_path / "saved.tar")
    images = {"app": _attrs(image.config_digest, ["example/app:latest"], image.diff_ids)}
    report = _engine_report(path.read_bytes(), images, "example/app", chunk=chunk)
    assert _figures(report) == _figures(audit_path(path))
    assert report.image.reference == "example/app"
    assert report.image.origin.kind == "docker-engine"
    assert report.image.origin.details["image_id"] == image.config_digest


def _tar(members: list[tuple[str, bytes | str]]) -> bytes:
    """Regular files (bytes) and symlinks (str target), in the given order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_a_layer_saved_twice_is_a_symlink() -> None:
    twice = ImageSpec(layers=[Layer([file("x", 5_000)]), Layer([file("x", 5_000)])])
    image = build(twice)
    (_, blob), _ = image.layer_blobs
    manifest = [{"Config": "config.json", "RepoTags": ["t:1"], "Layers": ["one/layer.tar", "two/layer.tar"]}]
    archive = _tar(
        [
            ("one/layer.tar", blob),
            ("one/VERSION", b"1.0"),
            ("two/layer.tar", "../one/layer.tar"),
            ("config.json", image.config),
            ("manifest.json", json.dumps(manifest).encode()),
        ]
    )
    report = _engine_report(archive, {"t": _attrs(image.config_digest, ["t:1"], image.diff_ids)}, "t:1")
    assert [layer.size_bytes for layer in report.layers] == [5_000, 5_000]
    assert report.wasted_bytes == 5_000


def test_a_layer_that_does_not_match_its_diff_id() -> None:
    image = build(SPEC)
    other = build(ImageSpec(layers=[Layer([file("y", 10)])] * 3))
    files = classic_files([image])
    manifest = json.loads(files["manifest.json"])
    files[manifest[0]["Layers"][0]] = other.layer_blobs[0][1]
    archive = _tar(list(files.items()))
    with pytest.raises(LayerError, match="does not match its digest"):
        _engine_report(archive, {"a": _attrs(image.config_digest, ["a:1"], image.diff_ids)}, "a:1")


def test_a_cut_stream_is_an_error() -> None:
    image = build(SPEC)
    archive = _tar(list(classic_files([image]).items()))
    with pytest.raises((SourceError, LayerError)):
        _engine_report(archive[: len(archive) // 2], {"a": _attrs(image.config_digest, ["a"], [])}, "a")


def test_the_longest_tagged_prefix_is_the_base(tmp_path: Path) -> None:
    image = build(SPEC)
    path = write_tar(classic_files([image]), tmp_path / "saved.tar")
    d = image.diff_ids
    images = {
        "app": _attrs(image.config_digest, ["example/app:latest"], d),
        "one": _attrs("sha256:" + "1" * 64, ["base/one:1"], d[:1]),
        "two-b": _attrs("sha256:" + "2" * 64, ["zeta:2"], d[:2]),
        "two-a": _attrs("sha256:" + "3" * 64, ["alpha:2"], d[:2]),
        "untagged": _attrs("sha256:" + "4" * 64, [], d[:2]),
        "unrelated": _attrs("sha256:" + "5" * 64, ["other:1"], ["sha256:" + "9" * 64]),
        "same": _attrs("sha256:" + "6" * 64, ["copy:1"], d),  # not a proper prefix
    }
    report = _engine_report(path.read_bytes(), images, "example/app:latest")
    assert (report.base.method, report.base.layer_count, report.base.name) == (
        BaseMethod.LOCAL_IMAGE,
        2,
        "alpha:2",
    )
    assert [layer.is_base for layer in report.layers] == [True, True, False]


def test_missing_image_with_pull_never_and_a_failed_pull() -> None:
    client = cast(docker.DockerClient, FakeClient(b"", {}))
    with pytest.raises(SourceError, match="no image 'nope:1' in the engine"):
        EngineSource(client, "nope:1", None, PullPolicy.NEVER, None, lambda _: None)
    with pytest.raises(SourceError, match="could not pull nope:1: pull access denied"):
        EngineSource(client, "nope:1", None, PullPolicy.MISSING, None, lambda _: None)
    assert cast(FakeClient, client).api.pulled == ["nope:1"]


def test_compressed_blobs_of_an_oci_save_are_checked_against_their_digest(tmp_path: Path) -> None:
    """A containerd-store engine saves layer blobs as stored: gzip, named by digest."""
    image = build(SPEC, "gzip")
    files = layout_files([image], docker_manifest=True)
    path = write_tar(files, tmp_path / "saved.tar")
    images = {"app": _attrs(image.config_digest, ["example/app:latest"], image.diff_ids)}
    assert _figures(_engine_report(path.read_bytes(), images, "example/app")) == _figures(audit_path(path))
    digest = image.layer_blobs[0][0]
    name = "blobs/sha256/" + digest.split(":", 1)[1]
    other = build(ImageSpec(layers=[Layer([file("bin/busybox", 50_000, seed=9)])]), "gzip").layer_blobs[0][1]
    files[name] = other  # a different, valid gzip tar under this digest's name
    with pytest.raises(LayerError, match="does not match its digest"):
        _engine_report(_tar(list(files.items())), images, "example/app")


def test_the_engine_is_found_through_the_current_docker_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No DOCKER_HOST: the SDK reads `currentContext` and the context store, as the CLI does."""
    import hashlib

    from imgaudit.sources.daemon import connect_engine, engine_location

    host = f"unix://{tmp_path}/context-engine.sock"  # nothing listens there
    meta = tmp_path / "contexts" / "meta" / hashlib.sha256(b"elsewhere").hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps({"Name": "elsewhere", "Metadata": {}, "Endpoints": {"docker": {"Host": host}}})
    )
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "elsewhere"}))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert engine_location() == host
    assert connect_engine() is None  # that engine does not answer: plain names go to registries


class _NoSave(FakeClient):
    def __init__(self, images: dict[str, dict[str, Any]]) -> None:
        super().__init__(b"", images)
        self.api.get_image = self._refuse  # type: ignore[method-assign]

    @staticmethod
    def _refuse(image: str, chunk_size: int) -> Iterator[bytes]:
        raise AssertionError("the engine was asked to save an image whose layers are all cached")


@pytest.mark.parametrize("layout", ["docker-classic", "docker-oci"])
def test_a_warm_engine_audit_saves_nothing(tmp_path: Path, layer_cache: Path, layout: str) -> None:
    image = build(SPEC)
    files = (
        classic_files([image]) if layout == "docker-classic" else layout_files([image], docker_manifest=True)
    )
    archive = write_tar(files, tmp_path / "saved.tar").read_bytes()
    images = {"app": _attrs(image.config_digest, ["example/app:latest"], image.diff_ids)}
    cold = _engine_report(archive, images, "example/app")
    client = cast(docker.DockerClient, _NoSave(images))
    with EngineSource(client, "example/app", None, PullPolicy.MISSING, None, lambda _: None) as source:
        warm = audit(source)
    assert _figures(warm) == _figures(cold)
    assert warm.image == cold.image
    assert [x.descriptor for x in warm.layers] == [x.descriptor for x in cold.layers]


def test_cached_layers_of_a_streamed_save_are_skipped_not_walked(
    tmp_path: Path, layer_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Docker 25+ saves name uncompressed layers by diff_id: a cached one is not walked.
    base = SPEC.layers[0]
    first = build(ImageSpec(layers=[base], tags=("example/base:latest",)))
    archive = write_tar(layout_files([first], docker_manifest=True), tmp_path / "base.tar")
    images = {"base": _attrs(first.config_digest, ["example/base:latest"], first.diff_ids)}
    _engine_report(archive.read_bytes(), images, "example/base")  # fills the cache

    import imgaudit.sources.daemon as daemon

    walked: list[int] = []
    original = daemon.analyze_layer

    def counting(stream: Any, *args: Any) -> Any:
        walked.append(1)
        return original(stream, *args)

    monkeypatch.setattr(daemon, "analyze_layer", counting)
    image = build(SPEC)
    path = write_tar(layout_files([image], docker_manifest=True), tmp_path / "saved.tar")
    images = {"app": _attrs(image.config_digest, ["example/app:latest"], image.diff_ids)}
    report = _engine_report(path.read_bytes(), images, "example/app")
    assert len(walked) == len(SPEC.layers) - 1
    assert _figures(report) == _figures(audit_path(path))

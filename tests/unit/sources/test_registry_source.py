"""The registry source against an in-process registry on 127.0.0.1 (no network, no daemon)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from imgaudit.audit import audit
from imgaudit.errors import LayerError, SourceError
from imgaudit.model import Report
from imgaudit.report import json as json_report
from imgaudit.sources.registry import Credentials, RegistrySource, parse_reference
from imgaudit.sources.registry.client import RegistryClient
from tests.conftest import audit_path
from tests.support.imagespec import BuiltImage, File, ImageSpec, Layer, Whiteout, build, file, write_image
from tests.unit.sources.registry_server import FakeRegistry, serve

SPEC = ImageSpec(
    layers=[
        Layer([file("bin/busybox", 40_000), File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")]),
        Layer([file("app/data.bin", 70_000, seed=1), file("tmp/big", 30_000)], created_by="RUN make"),
        Layer([Whiteout("tmp/big")], created_by="RUN rm -rf /tmp/big"),
    ]
)
PASSWORD = "s3cret-pw"


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    with serve(FakeRegistry()) as running:
        yield running


def _no_sleep(_: float) -> None:
    return None


def open_source(
    registry: FakeRegistry,
    name: str,
    platform: str | None = None,
    credentials: Credentials | None = None,
) -> RegistrySource:
    reference = f"{registry.host}/{name}"
    client = RegistryClient(parse_reference(reference), credentials, sleep=_no_sleep)
    return RegistrySource(client, reference, platform, lambda _: None)


def pull_report(registry: FakeRegistry, name: str, **kwargs: object) -> Report:
    with open_source(registry, name, **kwargs) as source:  # type: ignore[arg-type]
        return audit(source)


def figures(report: Report) -> tuple[object, ...]:
    return (
        report.total_bytes,
        report.final_bytes,
        dict(report.categories),
        [(layer.size_bytes, layer.wasted_bytes, layer.files) for layer in report.layers],
        report.wasted,
        report.base,
    )


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_pulled_image_has_the_archive_figures(
    registry: FakeRegistry, tmp_path: Path, compression: str
) -> None:
    image = build(SPEC, compression)
    digest = registry.push("team/app", "1.0", image)
    pulled = pull_report(registry, "team/app:1.0")
    archived = audit_path(write_image(SPEC, tmp_path / "image.tar", "oci-archive", compression))
    assert figures(pulled) == figures(archived)
    assert pulled.image.origin.kind == "registry"
    assert pulled.image.origin.location == f"{registry.host}/team/app@{digest}"
    assert pulled.image.manifest_digest == digest
    document = json_report.to_dict(pulled)
    jsonschema.validate(document, json_report.schema())
    assert document["image"]["source"]["digest"] == digest
    assert document["image"]["source"]["tag"] == "1.0"
    assert document["image"]["compressed_bytes"] == sum(len(blob) for _, blob in image.layer_blobs)
    assert [layer["blob_bytes"] for layer in document["layers"]] == [len(b) for _, b in image.layer_blobs]


def test_by_digest_and_the_digest_is_checked(registry: FakeRegistry) -> None:
    digest = registry.push("app", "1.0", build(SPEC, "gzip"))
    assert pull_report(registry, f"app@{digest}").image.manifest_digest == digest
    other = build(ImageSpec(layers=[Layer([file("x", 10)])]))
    registry.manifests[("app", digest)] = (other.manifest, "application/vnd.oci.image.manifest.v1+json")
    with pytest.raises(SourceError, match="does not match its digest"):
        pull_report(registry, f"app@{digest}")


def test_missing_tag_is_one_clear_error(registry: FakeRegistry) -> None:
    registry.push("app", "1.0", build(SPEC))
    with pytest.raises(SourceError) as caught:
        pull_report(registry, "app:2.0")
    assert "app:2.0 is not in the registry" in str(caught.value)
    assert "MANIFEST_UNKNOWN" in str(caught.value)


def test_corrupted_blob_fails_the_walk(registry: FakeRegistry) -> None:
    image = build(SPEC, "none")
    registry.push("app", "1.0", image)
    digest, blob = image.layer_blobs[1]
    # Same length, one byte changed inside a file's data: the tar still parses.
    registry.blobs[digest] = blob[:-2000] + bytes([blob[-2000] ^ 0xFF]) + blob[-1999:]
    with pytest.raises(LayerError, match="does not match its digest"):
        pull_report(registry, "app:1.0")


def test_truncated_blob_fails(registry: FakeRegistry) -> None:
    image = build(SPEC, "gzip")
    registry.push("app", "1.0", image)
    digest, blob = image.layer_blobs[0]
    registry.blobs[digest] = blob[: len(blob) // 2]
    with pytest.raises(LayerError):
        pull_report(registry, "app:1.0")


def test_retries_on_503_and_429(registry: FakeRegistry) -> None:
    registry.push("app", "1.0", build(SPEC, "gzip"))
    registry.fail_next = [503, 429, 502]
    assert pull_report(registry, "app:1.0").total_bytes > 0
    assert registry.fail_next == []


def test_gives_up_after_repeated_5xx(registry: FakeRegistry) -> None:
    registry.push("app", "1.0", build(SPEC, "gzip"))
    registry.fail_next = [503] * 10
    with pytest.raises(SourceError, match="HTTP 503"):
        pull_report(registry, "app:1.0")


@pytest.mark.parametrize("honour_range", [True, False])
def test_dropped_blob_connection_resumes(registry: FakeRegistry, tmp_path: Path, honour_range: bool) -> None:
    image = build(SPEC, "gzip")
    registry.push("app", "1.0", image)
    registry.honour_range = honour_range
    registry.drop_blob_after = 100
    pulled = pull_report(registry, "app:1.0")
    assert registry.drop_blob_after is None  # the fault did happen
    assert figures(pulled) == figures(
        audit_path(write_image(SPEC, tmp_path / "i.tar", "oci-archive", "gzip"))
    )
    ranges = [headers.get("Range") for path, headers in registry.log if "/blobs/" in path]
    assert "bytes=100-" in ranges  # asked to resume; the registry may answer whole (200)


def _two_platforms() -> list[BuiltImage]:
    amd = ImageSpec(layers=[Layer([file("bin/amd", 1000)])], architecture="amd64")
    arm = ImageSpec(layers=[Layer([file("bin/arm", 3000)])], architecture="arm64", variant="v8")
    return [build(amd, "gzip"), build(arm, "gzip")]


def test_index_platform_choice(registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    index_digest = registry.push_index("multi", "1.0", _two_platforms())
    arm = pull_report(registry, "multi:1.0", platform="linux/arm64")
    assert (arm.image.architecture, arm.image.variant, arm.total_bytes) == ("arm64", "v8", 3000)
    assert arm.image.origin.details["index_digest"] == index_digest
    monkeypatch.setattr("imgaudit.sources.manifests.host_platform_string", lambda: "linux/amd64")
    assert pull_report(registry, "multi:1.0").image.architecture == "amd64"


def test_index_without_the_platform_lists_the_available_ones(registry: FakeRegistry) -> None:
    registry.push_index("multi", "1.0", _two_platforms())
    with pytest.raises(SourceError) as caught:
        pull_report(registry, "multi:1.0", platform="linux/s390x")
    assert "no image for platform linux/s390x; available: linux/amd64, linux/arm64/v8" in str(caught.value)


def test_single_manifest_of_another_platform(registry: FakeRegistry) -> None:
    registry.push("app", "1.0", build(SPEC))
    with pytest.raises(SourceError, match="available: linux/amd64"):
        pull_report(registry, "app:1.0", platform="linux/arm64")


def test_basic_auth(tmp_path: Path) -> None:
    with serve(FakeRegistry(auth="basic")) as registry:
        registry.push("app", "1.0", build(SPEC, "gzip"))
        assert pull_report(registry, "app:1.0", credentials=Credentials("alice", PASSWORD)).total_bytes
        with pytest.raises(SourceError) as wrong:
            pull_report(registry, "app:1.0", credentials=Credentials("alice", "not-it"))
        with pytest.raises(SourceError) as missing:
            pull_report(registry, "app:1.0")
    assert "authentication failed" in str(wrong.value)
    assert "not-it" not in str(wrong.value)
    assert "requires authentication" in str(missing.value)


def test_bearer_token_with_credentials() -> None:
    with serve(FakeRegistry(auth="bearer")) as registry:
        registry.push("team/app", "1.0", build(SPEC, "gzip"))
        assert pull_report(registry, "team/app:1.0", credentials=Credentials("alice", PASSWORD)).total_bytes
        token_requests = [path for path, _ in registry.log if path.startswith("/token")]
        assert token_requests and "scope=repository%3Ateam%2Fapp%3Apull" in token_requests[0]
        with pytest.raises(SourceError, match="authentication failed") as wrong:
            pull_report(registry, "team/app:1.0", credentials=Credentials("alice", "wrong-pw"))
        assert "wrong-pw" not in str(wrong.value)
        with pytest.raises(SourceError, match="requires authentication"):
            pull_report(registry, "team/app:1.0")


def test_bearer_token_anonymous() -> None:
    with serve(FakeRegistry(auth="bearer", anonymous_pull=True)) as registry:
        registry.push("library/app", "1.0", build(SPEC, "gzip"))
        assert pull_report(registry, "library/app:1.0").total_bytes
        blob_headers = [h for path, h in registry.log if "/blobs/" in path]
        assert blob_headers and all(h.get("Authorization", "").startswith("Bearer ") for h in blob_headers)


def test_credentials_never_in_repr() -> None:
    assert PASSWORD not in repr(Credentials("alice", PASSWORD))


def test_unreachable_registry_is_a_source_error() -> None:
    reference = "127.0.0.1:9/app:1.0"  # the discard port: nothing listens on loopback
    client = RegistryClient(parse_reference(reference), sleep=_no_sleep, attempts=2)
    with pytest.raises(SourceError, match="cannot reach the registry"):
        RegistrySource(client, reference, None, lambda _: None)


def test_plain_http_is_never_tried_for_remote_hosts() -> None:
    client = RegistryClient(parse_reference("registry.example.com/app:1.0"), sleep=_no_sleep)
    assert client._schemes == ["https"]


def test_identity_token_is_exchanged_with_a_refresh_grant() -> None:
    with serve(FakeRegistry(auth="bearer")) as registry:
        registry.push("app", "1.0", build(SPEC, "gzip"))
        credentials = Credentials("<token>", registry.refresh_token, identity_token=True)
        assert pull_report(registry, "app:1.0", credentials=credentials).total_bytes
        with pytest.raises(SourceError, match="authentication failed"):
            pull_report(registry, "app:1.0", credentials=Credentials("<token>", "stale", identity_token=True))


def test_an_expired_token_is_renewed_mid_pull() -> None:
    with serve(FakeRegistry(auth="bearer")) as registry:
        registry.push("app", "1.0", build(SPEC, "gzip"))
        with open_source(registry, "app:1.0", credentials=Credentials("alice", PASSWORD)) as source:
            registry.tokens.clear()  # every token issued so far expires
            assert audit(source).total_bytes
        assert sum(path.startswith("/token") for path, _ in registry.log) == 2


def _blob_requests(registry: FakeRegistry, digests: list[str]) -> list[str]:
    return [d for path, _ in registry.log for d in digests if path.endswith(f"/blobs/{d}")]


def test_cached_layers_are_not_downloaded(registry: FakeRegistry, layer_cache: Path) -> None:
    base = build(ImageSpec(layers=SPEC.layers[:1]), "gzip")
    image = build(SPEC, "gzip")
    registry.push("team/base", "1", base)
    registry.push("team/app", "1", image)
    layer_digests = [digest for digest, _ in image.layer_blobs]
    pull_report(registry, "team/base:1")  # caches the shared layer, checked against its diff_id
    assert _blob_requests(registry, layer_digests) == layer_digests[:1]
    cold = pull_report(registry, "team/app:1")
    assert _blob_requests(registry, layer_digests) == layer_digests  # the base layer: not again
    warm = pull_report(registry, "team/app:1")
    assert _blob_requests(registry, layer_digests) == layer_digests  # nothing at all
    assert figures(warm) == figures(cold)


def test_a_registry_layer_that_does_not_match_its_diff_id_is_not_cached(
    registry: FakeRegistry, layer_cache: Path
) -> None:
    honest = build(SPEC, "gzip")
    other = build(ImageSpec(layers=[Layer([file("bin/busybox", 40_000, seed=5)])]), "gzip")
    # The manifest names another blob (its digest checks out); the config keeps the old diff_id.
    manifest = json.loads(honest.manifest)
    manifest["layers"][0].update(digest=other.layer_blobs[0][0], size=len(other.layer_blobs[0][1]))
    manifest_bytes = json.dumps(manifest).encode()
    image = dataclasses.replace(
        honest,
        manifest=manifest_bytes,
        manifest_digest="sha256:" + hashlib.sha256(manifest_bytes).hexdigest(),
        layer_blobs=[other.layer_blobs[0], *honest.layer_blobs[1:]],
    )
    registry.push("team/liar", "1", image)
    pull_report(registry, "team/liar:1")
    from imgaudit.layers.cache import active_cache

    cache = active_cache()
    assert cache is not None
    assert not cache.has(image.diff_ids[0])
    assert cache.has(image.diff_ids[1])

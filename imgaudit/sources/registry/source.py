"""An image pulled from a registry over the OCI distribution API, no daemon involved.

The manifest (or the index and then the platform's manifest) and the config are read
whole; layer blobs are streamed straight into the walk, verified as they pass.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, BinaryIO, cast

from imgaudit.errors import SourceError
from imgaudit.model import ImageInfo, LayerDescriptor, Origin
from imgaudit.sources.interface import ImageSource
from imgaudit.sources.manifests import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    Candidate,
    LayerRef,
    checked_digest,
    describe_image,
    platform_string,
    select_candidate,
)
from imgaudit.sources.registry.client import RegistryClient, json_object
from imgaudit.sources.store import JSON_CAP

MANIFEST_CAP = 4 * 1024 * 1024  # the distribution spec's limit for manifests
MAX_INDEX_DEPTH = 2
ACCEPT = ", ".join(sorted(INDEX_TYPES | MANIFEST_TYPES))


def _media_type(body: dict[str, Any], header: str) -> str:
    declared = body.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if "manifests" in body:
        return "application/vnd.oci.image.index.v1+json"
    if body.get("schemaVersion") == 1:
        return "application/vnd.docker.distribution.manifest.v1+json"
    return header or "application/vnd.oci.image.manifest.v1+json"


class RegistrySource(ImageSource):
    def __init__(
        self,
        client: RegistryClient,
        reference_text: str,
        platform: str | None,
        warn: Callable[[str], None],
    ) -> None:
        self._client = client
        ref = client.reference
        where = str(ref)
        self._where = where
        manifest, digest, index_digest = self._resolve_manifest(ref.version, ref.digest, platform, where)
        candidate = _manifest_candidate(manifest, digest, where)
        config_ref = manifest["config"]
        config_digest = checked_digest(config_ref.get("digest"), where)
        config = client.read_blob(config_digest, config_ref.get("size"), JSON_CAP)
        details = {"registry": ref.registry, "repository": ref.repository, "digest": digest}
        if ref.tag:
            details["tag"] = ref.tag
        if index_digest:
            details["index_digest"] = index_digest
        origin = Origin(
            kind="registry", location=f"{ref.registry}/{ref.repository}@{digest}", details=details
        )
        self._candidate = candidate
        self._info, self._layers = describe_image(candidate, config, origin, reference_text, warn)
        if platform and index_digest is None:
            check_platform(self._info, platform, where)

    def _resolve_manifest(
        self, version: str, pinned: str | None, platform: str | None, where: str
    ) -> tuple[dict[str, Any], str, str | None]:
        """Follow indexes down to one image manifest: (manifest, its digest, index digest)."""
        index_digest: str | None = None
        for _ in range(MAX_INDEX_DEPTH + 1):
            data, header_type = self._client.get_manifest(version, ACCEPT, MANIFEST_CAP)
            digest = _verified_digest(data, pinned, where)
            body = json_object(data, "the manifest", where)
            media_type = _media_type(body, header_type)
            if media_type in INDEX_TYPES:
                index_digest = index_digest or digest
                version = pinned = _choose_platform(body, platform, where)
                continue
            if media_type not in MANIFEST_TYPES:
                raise SourceError(f"unsupported manifest type {media_type!r}", where=where)
            return body, digest, index_digest
        raise SourceError("image indexes nest too deeply", where=where)

    @property
    def info(self) -> ImageInfo:
        return self._info

    @property
    def layers(self) -> Sequence[LayerDescriptor]:
        return self._layers

    @contextmanager
    def _open(self, index: int) -> Iterator[BinaryIO]:
        ref = self._candidate.layers[index]
        assert ref.digest is not None  # every registry layer is named by its digest
        blob = self._client.open_blob(ref.digest, ref.size)
        try:
            yield cast(BinaryIO, io.BufferedReader(blob, buffer_size=1 << 20))
            blob.finish()  # whatever the walk left unread is still checked
        finally:
            blob.close()

    def open_layer(self, index: int) -> Any:
        return self._open(index)

    @property
    def trusts_diff_ids(self) -> bool:
        return False  # a blob matches its digest; that its contents match the diff_id is checked

    def close(self) -> None:
        self._client.close()


def _verified_digest(data: bytes, pinned: str | None, where: str) -> str:
    """The manifest's digest; when the reference pins one, the bytes must hash to it."""
    if pinned is None:
        return "sha256:" + hashlib.sha256(data).hexdigest()
    algorithm, _, expected = pinned.partition(":")
    if hashlib.new(algorithm, data).hexdigest() != expected:
        raise SourceError(f"the manifest does not match its digest {pinned}", where=where)
    return pinned


def _choose_platform(index: dict[str, Any], platform: str | None, where: str) -> str:
    manifests = index.get("manifests")
    if not isinstance(manifests, list):
        raise SourceError("the image index has no manifests list", where=where)
    candidates = []
    for descriptor in manifests:
        if not isinstance(descriptor, dict):
            continue
        annotations = descriptor.get("annotations") or {}
        if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            continue  # BuildKit provenance: not a runnable image
        candidates.append(
            Candidate(
                names=[],
                config_name="",
                layers=[],
                manifest_digest=checked_digest(descriptor.get("digest"), where),
                platform=platform_string(descriptor.get("platform")),
            )
        )
    # Several platforms and no --platform: select_candidate takes the host's, or lists them all.
    chosen = select_candidate(candidates, None, platform, where)
    assert chosen.manifest_digest is not None
    return chosen.manifest_digest


def _manifest_candidate(manifest: dict[str, Any], digest: str, where: str) -> Candidate:
    if not isinstance(manifest.get("config"), dict):
        raise SourceError(f"manifest {digest} has no config", where=where)
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise SourceError(f"manifest {digest} has no layers list", where=where)
    refs = []
    for layer in layers:
        if not isinstance(layer, dict):
            raise SourceError(f"manifest {digest} has a malformed layer", where=where)
        layer_digest = checked_digest(layer.get("digest"), where)
        size = layer.get("size")
        refs.append(
            LayerRef(
                layer_digest, layer_digest, layer.get("mediaType"), size if isinstance(size, int) else None
            )
        )
    annotations = {str(k): str(v) for k, v in (manifest.get("annotations") or {}).items()}
    return Candidate(
        names=[],
        config_name=manifest["config"].get("digest", ""),
        layers=refs,
        manifest_digest=digest,
        annotations=annotations,
    )


def check_platform(info: ImageInfo, platform: str, where: str) -> None:
    """A single-platform image must be the platform asked for; say which one it is."""
    actual = "/".join(p for p in (info.os, info.architecture, info.variant) if p)
    if actual != platform and not actual.startswith(platform + "/"):
        raise SourceError(f"no image for platform {platform}; available: {actual or 'unknown'}", where=where)

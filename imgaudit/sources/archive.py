"""Images stored as files: `docker save` archives (classic and OCI-based), OCI archives
and OCI image-layout directories.

All four are a blob store plus one of two indexes: Docker's `manifest.json`, or the OCI
`index.json`. Docker 25+ writes both; `manifest.json` is then preferred for its tags, and
`index.json` still supplies the manifest digest.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

from imgaudit.classify.base import BASE_DIGEST_ANNOTATION, BASE_NAME_ANNOTATION
from imgaudit.errors import SourceError
from imgaudit.layers.paths import normalize
from imgaudit.model import BaseImage, BaseMethod, ImageInfo, LayerDescriptor, Origin
from imgaudit.sources.background_digest import BackgroundDigestCheck
from imgaudit.sources.interface import ImageSource
from imgaudit.sources.manifests import (
    INDEX_TYPES,
    NAME_ANNOTATIONS,
    Candidate,
    LayerRef,
    blob_name,
    checked_digest,
    describe_image,
    manifest_document,
    parse_json,
    platform_string,
    select_candidate,
)
from imgaudit.sources.store import (
    BlobStore,
    DigestCheckingReader,
    DirectoryStore,
    FlatDirectoryStore,
    TarArchiveStore,
)

MAX_INDEX_DEPTH = 4
# Listings followed down an index and those it nests: a multi-platform image has a few dozen,
# a layout of many images some thousands.
MAX_INDEX_ENTRIES = 10_000
_DIGEST_FORMAT = re.compile(r"sha256:[0-9a-f]{64}")


def _docker_manifest_candidates(store: BlobStore) -> list[Candidate]:
    raw = store.read("manifest.json")
    entries = parse_json(raw, "manifest.json", store.location)
    if isinstance(entries, dict) and isinstance(store, FlatDirectoryStore):
        # skopeo's `dir:` format: manifest.json is the image manifest itself.
        if entries.get("schemaVersion") == 1:
            raise SourceError("a schema 1 image manifest is not supported", where=store.location)
        manifest_digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        return [_manifest_candidate(store, entries, manifest_digest, [], None, {})]
    if not isinstance(entries, list):
        raise SourceError("manifest.json is not a list of images", where=store.location)
    candidates = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise SourceError("manifest.json has an entry without Config", where=store.location)
        layers = entry.get("Layers")
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise SourceError("manifest.json has an entry without Layers", where=store.location)
        refs = []
        for name in layers:
            if normalize(name) is None:
                raise SourceError(f"manifest.json names a path outside the archive: {name!r}")
            digest = _digest_from_blob_path(name)
            refs.append(LayerRef(name, digest, None, store.size(name) if store.exists(name) else None))
        tags = entry.get("RepoTags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise SourceError("manifest.json: RepoTags should be a list of strings", where=store.location)
        candidates.append(
            Candidate(
                names=list(tags),
                config_name=entry["Config"],
                layers=refs,
            )
        )
    return _merge_same_image(candidates)


def _merge_same_image(candidates: list[Candidate]) -> list[Candidate]:
    """Entries naming one config and one list of layers are one image (listed twice, or under
    each of its tags): without this, no `--image` could tell them apart."""
    merged: dict[tuple[str | None, tuple[str | None, ...]], Candidate] = {}
    for candidate in candidates:
        key = (normalize(candidate.config_name), tuple(normalize(ref.name) for ref in candidate.layers))
        kept = merged.setdefault(key, candidate)
        if kept is not candidate:
            kept.names.extend(n for n in candidate.names if n not in kept.names)
    return list(merged.values())


def _digest_from_blob_path(name: str) -> str | None:
    parts = (normalize(name) or "").split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        return f"{parts[1]}:{parts[2]}"
    return None


def _oci_candidates(store: BlobStore) -> list[Candidate]:
    index = manifest_document(store.read("index.json"), "index.json", store.location)
    candidates: list[Candidate] = []
    _collect(store, index, [], None, candidates, depth=0, walk=_IndexWalk())
    return _merge_same_manifest(candidates)


@dataclass(slots=True)
class _IndexWalk:
    """Bounds one walk down an index and the indexes it nests. Each blob is read and parsed
    once, and a listing seen before (one blob, one name, platform and type) is not followed
    again: 20 listings of one inner index, 4 levels deep, were 160,000 paths to one image,
    each read again (147 s). Listings that differ count against MAX_INDEX_ENTRIES."""

    entries: int = 0
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    followed: set[tuple[str, str | None, tuple[str, ...], str | None]] = field(default_factory=set)


def _merge_same_manifest(candidates: list[Candidate]) -> list[Candidate]:
    """One manifest listed twice (two tags, or the same entry written twice) is one image."""
    merged: dict[tuple[str | None, str | None], Candidate] = {}
    for candidate in candidates:
        key = (candidate.manifest_digest, candidate.platform)
        if key in merged:
            kept = merged[key]
            kept.names.extend(n for n in candidate.names if n not in kept.names)
        else:
            merged[key] = candidate
    return list(merged.values())


def _collect(
    store: BlobStore,
    index: Any,
    names: list[str],
    platform: str | None,
    out: list[Candidate],
    depth: int,
    walk: _IndexWalk,
) -> None:
    if depth > MAX_INDEX_DEPTH:
        raise SourceError("image indexes nest too deeply", where=store.location)
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list):
        raise SourceError("an image index has no manifests list", where=store.location)
    for descriptor in manifests:
        if not isinstance(descriptor, dict):
            continue
        walk.entries += 1
        if walk.entries > MAX_INDEX_ENTRIES:
            raise SourceError(
                f"the image index lists more than {MAX_INDEX_ENTRIES} entries, nested indexes included",
                where=store.location,
            )
        annotations = descriptor.get("annotations") or {}
        if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            continue  # BuildKit provenance: not a runnable image
        digest = checked_digest(descriptor.get("digest"), store.location)
        own_names = [str(annotations[k]) for k in NAME_ANNOTATIONS if annotations.get(k)]
        # The full name (containerd's) is more useful than a bare tag; keep both for matching.
        # index.json names the image; a nested manifest's own annotation only adds a name.
        here_names = [*names, *(n for n in own_names if n not in names)]
        here_platform = platform_string(descriptor.get("platform"), store.location) or platform
        listing = (digest, here_platform, tuple(here_names), descriptor.get("mediaType"))
        if listing in walk.followed:
            continue  # the same image again, by the same name: one candidate either way
        walk.followed.add(listing)
        if depth > 0 and not store.exists(blob_name(digest)):
            continue  # a platform the export left out (containerd keeps the whole index)
        body = walk.documents.get(digest)
        if body is None:
            body = manifest_document(store.read(blob_name(digest)), f"blob {digest}", store.location)
            walk.documents[digest] = body
        media_type = descriptor.get("mediaType") or body.get("mediaType")
        if media_type in INDEX_TYPES or "manifests" in body:
            _collect(store, body, here_names, here_platform, out, depth + 1, walk)
            continue
        out.append(_manifest_candidate(store, body, digest, here_names, here_platform, annotations))


def _manifest_candidate(
    store: BlobStore,
    manifest: Any,
    digest: str,
    names: list[str],
    platform: str | None,
    index_annotations: dict[str, Any],
) -> Candidate:
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise SourceError(f"manifest {digest} has no config", where=store.location)
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        raise SourceError(f"manifest {digest} has no layers list", where=store.location)
    refs = []
    for layer in layers:
        layer_digest = checked_digest(
            layer.get("digest") if isinstance(layer, dict) else None, store.location
        )
        refs.append(
            LayerRef(blob_name(layer_digest), layer_digest, layer.get("mediaType"), layer.get("size"))
        )
    config_digest = checked_digest(manifest["config"].get("digest"), store.location)
    annotations = {str(k): str(v) for k, v in (manifest.get("annotations") or {}).items()}
    annotations.update({str(k): str(v) for k, v in index_annotations.items()})
    return Candidate(
        names=names,
        config_name=blob_name(config_digest),
        layers=refs,
        manifest_digest=digest,
        platform=platform,
        annotations=annotations,
        config_media_type=manifest["config"].get("mediaType") or manifest.get("artifactType"),
    )


class ArchiveSource(ImageSource):
    """An image read from a blob store (an archive file or a layout directory)."""

    def __init__(
        self,
        store: BlobStore,
        kind: str,
        image: str | None,
        platform: str | None,
        warn: Callable[[str], None],
    ) -> None:
        self._store = store
        if store.exists("manifest.json"):
            candidates = _docker_manifest_candidates(store)
            if store.exists("index.json"):
                _add_manifest_digests(store, candidates)
        elif store.exists("index.json"):
            candidates = _oci_candidates(store)
            kind = "oci-archive" if kind == "docker-archive" else kind
        else:
            raise SourceError(
                "no manifest.json or index.json: not a docker save archive or OCI layout",
                where=store.location,
            )
        chosen = select_candidate(candidates, image, platform, store.location)
        self._chosen = chosen
        reference = image or (chosen.names[0] if chosen.names else Path(store.location).name)
        origin = Origin(kind=kind, location=store.location)
        if not store.exists(chosen.config_name):
            raise SourceError(f"the config blob {chosen.config_name} is missing", where=store.location)
        missing = [ref.name for ref in chosen.layers if not store.exists(ref.name)]
        if missing:
            raise SourceError(f"layer blob {missing[0]} is missing", where=store.location)
        _check_sizes(store, chosen.layers)
        self._info, self._layers = describe_image(
            chosen, store.read(chosen.config_name), origin, reference, warn
        )

    @property
    def info(self) -> ImageInfo:
        return self._info

    @property
    def layers(self) -> Sequence[LayerDescriptor]:
        return self._layers

    @contextmanager
    def _open(self, index: int) -> Iterator[BinaryIO]:
        blob = self._store.open_checked(self._chosen.layers[index].name, self._layers[index].diff_id)
        with blob:
            if isinstance(blob, DigestCheckingReader):
                yield cast(BinaryIO, io.BufferedReader(blob, buffer_size=1 << 20))
                blob.finish()  # whatever the walk left unread is still hashed
            elif isinstance(blob, BackgroundDigestCheck):
                yield blob.stream
                blob.defer()  # verified by `settle()`, while the audit goes on
            else:
                yield blob

    def open_layer(self, index: int) -> Any:
        return self._open(index)

    def layer_identity(self, index: int) -> str | None:
        # The member or file the blob is read from: a classic `<id>/layer.tar` has no digest.
        return self._chosen.layers[index].name

    def base_hint(self) -> BaseImage | None:
        """The annotated base (`org.opencontainers.image.base.digest`), when this archive or
        layout also holds that image: its layer count is then known, not guessed."""
        digest = self._info.annotations.get(BASE_DIGEST_ANNOTATION)
        if not digest or not _DIGEST_FORMAT.fullmatch(digest) or not self._store.exists(blob_name(digest)):
            return None
        try:
            manifest = manifest_document(
                self._store.read(blob_name(digest)), "base manifest", self._store.location
            )
            candidate = _manifest_candidate(self._store, manifest, digest, [], None, {})
            config = parse_json(self._store.read(candidate.config_name), "base config", self._store.location)
        except SourceError:
            return None
        diff_ids = (config.get("rootfs") or {}).get("diff_ids") if isinstance(config, dict) else None
        ours = [d.diff_id for d in self._layers]
        if not isinstance(diff_ids, list) or not diff_ids or ours[: len(diff_ids)] != diff_ids:
            return None
        name = self._info.annotations.get(BASE_NAME_ANNOTATION)
        return BaseImage(BaseMethod.ANNOTATION, len(diff_ids), name, digest)

    def settle(self) -> None:
        self._store.settle()

    def close(self) -> None:
        self._store.close()


def _check_sizes(store: BlobStore, layers: Sequence[LayerRef]) -> None:
    """A blob must be the size its descriptor says (the OCI spec; containerd checks it too):
    checked before reading, so a layer swapped for a huge file is refused at once instead of
    hashed to the end."""
    for ref in layers:
        if isinstance(ref.size, int) and not isinstance(ref.size, bool) and ref.digest:
            actual = store.size(ref.name)
            if actual != ref.size:
                raise SourceError(
                    f"layer blob {ref.digest[:19]} is {actual} bytes but its manifest says {ref.size}",
                    where=store.location,
                )


def _add_manifest_digests(store: BlobStore, candidates: list[Candidate]) -> None:
    """Docker 25+ archives also carry index.json: take the manifest digests from it."""
    try:
        indexed = _oci_candidates(store)
    except SourceError:
        return  # manifest.json alone describes the images fully
    by_config = {c.config_name: c for c in indexed}
    for candidate in candidates:
        match = by_config.get(normalize(candidate.config_name) or "")
        if match is not None:
            candidate.manifest_digest = match.manifest_digest
            candidate.platform = match.platform
            candidate.annotations = match.annotations
            candidate.config_media_type = match.config_media_type
            candidate.layers = [
                ref if ref.media_type else LayerRef(ref.name, ref.digest, m.media_type, ref.size)
                for ref, m in zip(candidate.layers, match.layers, strict=False)
            ]


def open_path(
    path: Path, image: str | None, platform: str | None, warn: Callable[[str], None]
) -> ArchiveSource:
    """Open an archive file or a layout directory; the format is read from its contents."""
    if path.is_dir():
        if FlatDirectoryStore.recognises(path):
            return ArchiveSource(FlatDirectoryStore(path), "skopeo-dir", image, platform, warn)
        if not (path / "index.json").is_file() and not (path / "manifest.json").is_file():
            raise SourceError("directory is not an OCI image layout (no index.json)", where=str(path))
        return ArchiveSource(DirectoryStore(path), "oci-layout", image, platform, warn)
    if not path.is_file():
        # a FIFO or a device would be read to no end (/dev/zero) or block (a FIFO with no writer)
        what = "not a regular file or a directory" if path.exists() else "no such file or directory"
        raise SourceError(what, where=str(path))
    if path.stat().st_size == 0:
        raise SourceError("the archive is empty", where=str(path))
    return ArchiveSource(TarArchiveStore(path), "docker-archive", image, platform, warn)

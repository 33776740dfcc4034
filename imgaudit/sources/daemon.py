"""Images in a Docker engine, read through the `docker` SDK without a temporary file.

`docker save` writes every layer tar before `manifest.json` and the config, so the saved
stream cannot be read in manifest order without spooling gigabytes to disk. Instead each
layer is walked as it streams past (`analyze_layer` is a pure function of the layer's
bytes) and its analysis is keyed by its name in the archive; once manifest.json and the
config arrive, the shared archive reader puts the analyses in layer order. Only the small
JSON members are kept in memory.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, BinaryIO, cast

import docker
import docker.errors
import requests
from docker.context import ContextAPI
from docker.utils import kwargs_from_env

from imgaudit.errors import LayerError, SourceError
from imgaudit.inputs import Fields, limit, load_json
from imgaudit.layers.cache import LayerCache, active_cache
from imgaudit.layers.paths import normalize, parent
from imgaudit.layers.tarstream import MAX_HEADER_EXTENSION
from imgaudit.layers.walk import analyze_layer
from imgaudit.model import BaseImage, BaseMethod, LayerAnalysis, Origin
from imgaudit.sources.archive import ArchiveSource
from imgaudit.sources.compression import (
    DECOMPRESSION_ERRORS,
    compression_of,
    decompressed,
    decompression_problem,
)
from imgaudit.sources.pull import PullPolicy
from imgaudit.sources.registry.credentials import Credentials
from imgaudit.sources.registry.source import check_platform
from imgaudit.sources.store import JSON_CAP, BlobStore

PING_TIMEOUT = 5
# Between two chunks of a save or a pull the engine may work a while (compressing, extracting).
ENGINE_TIMEOUT = 600
__all__ = ["EngineSource", "PullPolicy", "connect_engine", "engine_location"]
_ENGINE_ERRORS = (docker.errors.DockerException, requests.RequestException, OSError)
_CHUNK = 1 << 20


def engine_location() -> str:
    """Where the SDK would connect: DOCKER_HOST, else the current context, else the socket."""
    try:
        host = kwargs_from_env().get("base_url")
        if not host:
            context = ContextAPI.get_current_context()
            host = context.Host if context is not None else None
    except (docker.errors.DockerException, OSError, ValueError):
        host = None
    return str(host or "unix:///var/run/docker.sock")


def connect_engine() -> docker.DockerClient | None:
    """A client of the reachable engine, or None when no engine answers."""
    try:
        client = docker.from_env(timeout=PING_TIMEOUT)
    except _ENGINE_ERRORS:
        return None
    try:
        client.ping()
    except _ENGINE_ERRORS:
        client.close()
        return None
    client.api.timeout = ENGINE_TIMEOUT
    return client


@dataclass(frozen=True, slots=True)
class _StreamedLayer:
    analysis: LayerAnalysis | None  # None: in the analysis cache under this diff_id
    size: int
    sha256: str  # of the blob as saved: for an uncompressed layer, its diff_id
    compressed: bool
    diff_id: str | None = None  # set where the analysis is the cache's


class _ChunkReader(io.RawIOBase):
    """The SDK's chunk generator as a file, for `tarfile` in stream mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")  # a view: slicing a 2 MB chunk per read would copy it

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class _HashingReader(io.RawIOBase):
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.hash = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        self.hash.update(data)
        self.count += len(data)
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


def _is_layer_name(name: str) -> bool:
    """Classic saves name layers `<id>/layer.tar`; Docker 25+ (OCI) saves `blobs/sha256/<hex>`."""
    return name.endswith("/layer.tar") or name.startswith("blobs/")


def _looks_like_json(head: bytes) -> bool:
    return head.lstrip()[:1] in (b"{", b"[")


class _StreamedStore(BlobStore):
    """What a streamed save left behind: small JSON members and the layers' analyses."""

    def __init__(self, location: str, cache: LayerCache | None = None) -> None:
        self.location = location
        self.cache = cache  # layers it holds are skipped over as they stream past
        self.small: dict[str, bytes] = {}
        self.layers: dict[str, _StreamedLayer] = {}
        self.aliases: dict[str, str] = {}  # symlinks: a layer saved once for two images

    def resolve(self, name: str) -> str:
        key = normalize(name) or ""
        for _ in range(8):
            if key not in self.aliases:
                break
            key = self.aliases[key]
        return key

    def exists(self, name: str) -> bool:
        key = self.resolve(name)
        return key in self.small or key in self.layers

    def size(self, name: str) -> int:
        key = self.resolve(name)
        if key in self.layers:
            return self.layers[key].size
        if key in self.small:
            return len(self.small[key])
        raise SourceError(f"the saved image has no {name!r}", where=self.location)

    def open(self, name: str) -> BinaryIO:
        key = self.resolve(name)
        if key not in self.small:
            raise SourceError(f"the saved image has no {name!r} to read", where=self.location)
        return io.BytesIO(self.small[key])

    def analysis(self, name: str) -> _StreamedLayer | None:
        key = self.resolve(name)
        if key in self.layers:
            return self.layers[key]
        if key in self.small:
            # A layer whose first bytes looked like JSON was kept whole: walk it now.
            data = self.small[key]
            analysis = analyze_layer(decompressed(cast(BinaryIO, io.BytesIO(data))))
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            return _StreamedLayer(analysis, len(data), digest, compression_of(data[:4]) != "none")
        return None


def _inside(directory: str, link: str) -> str | None:
    """A symlink target within the archive (`../<id>/layer.tar`), or None when it leaves it."""
    if link.startswith("/"):
        return None
    parts = directory.split("/") if directory else []
    for part in link.split("/"):
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts) or None


_EXTENSION_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, *tarfile.GNU_TYPES[:2])


class _CappedTarInfo(tarfile.TarInfo):
    """tarfile reads a pax header or GNU long name whole, whatever size it declares: one of
    1 GiB would be held in memory. Capped here as the layer reader caps them."""

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _EXTENSION_TYPES and self.size > MAX_HEADER_EXTENSION:
            raise tarfile.ReadError(f"a header extension of {self.size} bytes")
        return super()._proc_member(archive)  # type: ignore[misc, no-any-return]


def _read_save(chunks: Iterator[bytes], store: _StreamedStore, progress: Callable[[str], None]) -> None:
    try:
        stream = io.BufferedReader(_ChunkReader(chunks), _CHUNK)
        with tarfile.open(fileobj=stream, mode="r|", bufsize=_CHUNK, tarinfo=_CappedTarInfo) as archive:
            for member in archive:
                name = normalize(member.name)
                if not name:
                    continue
                if member.issym():
                    target = _inside(parent(name), member.linkname)
                    if target:
                        store.aliases[name] = target
                    continue
                if member.islnk():
                    target = normalize(member.linkname)
                    if target:
                        store.aliases[name] = target
                    continue
                if not member.isfile():
                    continue
                content = archive.extractfile(member)
                assert content is not None  # a regular file always has content
                _take_member(name, member.size, cast(BinaryIO, content), store, progress)
    except tarfile.TarError as exc:
        raise SourceError(
            f"the engine sent an unreadable image archive ({exc})", where=store.location
        ) from exc


def _take_member(
    name: str, size: int, content: BinaryIO, store: _StreamedStore, progress: Callable[[str], None]
) -> None:
    head = cast(io.BufferedReader, content).peek(64)[:64]
    if size <= JSON_CAP and (not _is_layer_name(name) or _looks_like_json(head)):
        store.small[name] = content.read()
        return
    if not _is_layer_name(name):
        return  # a large member that is no layer: nothing in a save is, but never keep it
    digest = _blob_digest(name)
    if digest and store.cache and store.cache.has(digest) and compression_of(head[:4]) == "none":
        # Docker 25+ names an uncompressed layer by its diff_id: a cached one is not walked.
        progress(f"skipping cached layer {len(store.layers) + 1} as the engine saves it")
        store.layers[name] = _StreamedLayer(None, size, digest, False, digest)
        return
    progress(f"reading layer {len(store.layers) + 1} as the engine saves it")
    hashing = _HashingReader(content)
    buffered = cast(BinaryIO, io.BufferedReader(hashing, _CHUNK))
    try:
        analysis = analyze_layer(decompressed(buffered))
        hashing.drain()
    except LayerError as exc:
        raise LayerError(f"{name}: {exc.message}", where=store.location) from exc
    except DECOMPRESSION_ERRORS as exc:
        raise LayerError(f"{name}: {decompression_problem(exc)}", where=store.location) from exc
    store.layers[name] = _StreamedLayer(
        analysis, hashing.count, "sha256:" + hashing.hash.hexdigest(), compression_of(head[:4]) != "none"
    )


def _blob_digest(name: str) -> str | None:
    """`blobs/sha256/<hex>` (Docker 25+ saves) names its own digest."""
    algorithm, _, hexdigest = name.removeprefix("blobs/").partition("/")
    if name.startswith("blobs/") and algorithm == "sha256" and len(hexdigest) == 64:
        return f"sha256:{hexdigest}"
    return None


def _no_progress(_: str) -> None:
    return None


_SAVE_RECORD = "engine-save"


def _remembered_save(cache: LayerCache, image_id: str, location: str) -> _StreamedStore | None:
    """What an earlier save of this image left in the cache, when every layer's analysis is
    there too: the audit then needs no `docker save` at all."""
    record = cache.get_record(_SAVE_RECORD, image_id)
    if not isinstance(record, dict):
        return None
    store = _StreamedStore(location)
    try:
        store.small = {str(k): bytes(v) for k, v in record["small"].items()}
        store.aliases = {str(k): str(v) for k, v in record["aliases"].items()}
        for name, (diff_id, size, sha256, compressed) in record["layers"].items():
            if not cache.has(diff_id):
                return None
            store.layers[str(name)] = _StreamedLayer(None, int(size), str(sha256), bool(compressed), diff_id)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    # The image ID is the config's digest: the remembered config must still hash to it.
    if not any("sha256:" + hashlib.sha256(data).hexdigest() == image_id for data in store.small.values()):
        return None
    return store


def _remember_save(
    cache: LayerCache,
    image_id: str,
    store: _StreamedStore,
    names: Sequence[str],
    diff_ids: Sequence[str | None],
) -> None:
    layers = {}
    for name, diff_id in zip(names, diff_ids, strict=True):
        streamed = store.analysis(name)
        if streamed is None or not diff_id:
            return
        layers[store.resolve(name)] = (diff_id, streamed.size, streamed.sha256, streamed.compressed)
    cache.put_record(
        _SAVE_RECORD, image_id, {"small": dict(store.small), "aliases": dict(store.aliases), "layers": layers}
    )


class EngineSource(ArchiveSource):
    """An engine image: the shared archive reader over a save that was walked as it streamed."""

    def __init__(
        self,
        client: docker.DockerClient,
        reference: str,
        platform: str | None,
        pull: PullPolicy,
        credentials: Credentials | None,
        warn: Callable[[str], None],
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        progress = progress or _no_progress
        location = engine_location()
        progress(f"finding {reference} in the engine (pull: {pull.value})")
        attributes = _local_image(client, reference, platform, pull, credentials, location)
        image_id = str(attributes.get("Id", ""))
        cache = active_cache()
        remembered = _remembered_save(cache, image_id, location) if cache else None
        store = remembered or _StreamedStore(location, cache)
        if remembered is None:
            progress(f"the engine is saving {reference}")
            try:
                # By ID: a save by name would drag in other tags; the ID names exactly this image.
                _read_save(iter(client.api.get_image(image_id, chunk_size=_CHUNK)), store, progress)
            except _ENGINE_ERRORS as exc:
                raise SourceError(
                    f"the engine failed to save {reference} ({type(exc).__name__})", where=location
                ) from exc
        self._streamed = store
        self._cache = cache
        super().__init__(store, "docker-engine", None, None, warn)
        details = {"image_id": image_id}
        tags = [str(t) for t in attributes.get("RepoTags") or []]
        if tags:
            details["tags"] = ", ".join(tags)
        self._info = replace(
            self._info, reference=reference, origin=Origin("docker-engine", location, details)
        )
        if platform:
            check_platform(self._info, platform, f"{reference} ({location})")
        self._check_layer_digests()
        if cache and remembered is None:
            names = [ref.name for ref in self._chosen.layers]
            _remember_save(cache, image_id, store, names, [d.diff_id for d in self._layers])
        self._base = _local_base(client, attributes, [d.diff_id or "" for d in self._layers], location)

    def _check_layer_digests(self) -> None:
        """Saved layers hash to their names: a cheap proof that nothing was lost on the way.

        An uncompressed layer hashes to its diff_id; a blob saved by digest (Docker 25+
        saves `blobs/sha256/<hex>`, compressed or not) hashes to that digest.
        """
        for descriptor, ref in zip(self._layers, self._chosen.layers, strict=True):
            streamed = self._streamed.analysis(ref.name)
            if streamed is None:
                raise SourceError(f"the saved image lacks layer {ref.name}", where=self._streamed.location)
            expected = [descriptor.diff_id] if not streamed.compressed else []
            if ref.digest and ref.digest.startswith("sha256:"):
                expected.append(ref.digest)
            for digest in filter(None, expected):
                if streamed.sha256 != digest:
                    raise LayerError(
                        f"layer {descriptor.index} does not match its digest {digest[:19]}",
                        where=self._streamed.location,
                    )

    def analysis(self, index: int) -> LayerAnalysis | None:
        streamed = self._streamed.analysis(self._chosen.layers[index].name)
        if streamed is None:
            return None
        if streamed.analysis is not None:
            return streamed.analysis
        cached = self._cache.get(streamed.diff_id) if self._cache else None
        if cached is None:
            raise SourceError(
                f"layer {index}'s cached analysis vanished during the run; run again (or with --no-cache)",
                where=self._streamed.location,
            )
        return cached

    def base_hint(self) -> BaseImage | None:
        return self._base

    def open_layer(self, index: int) -> Any:
        raise SourceError(
            "engine layers are read while the image streams; there is no second read",
            where=self._streamed.location,
        )

    def close(self) -> None:
        self._client.close()


def _local_image(
    client: docker.DockerClient,
    reference: str,
    platform: str | None,
    pull: PullPolicy,
    credentials: Credentials | None,
    location: str,
) -> Mapping[str, Any]:
    if pull is PullPolicy.ALWAYS:
        _pull(client, reference, platform, credentials, location)
    try:
        return _inspect(client, reference)
    except docker.errors.ImageNotFound:
        if pull is PullPolicy.NEVER:
            raise SourceError(
                f"no image {reference!r} in the engine (and --pull=never)", where=location
            ) from None
    except _ENGINE_ERRORS as exc:
        raise SourceError(
            f"the engine cannot inspect {reference!r} ({type(exc).__name__})", where=location
        ) from exc
    if pull is not PullPolicy.ALWAYS:
        _pull(client, reference, platform, credentials, location)
    try:
        return _inspect(client, reference)
    except _ENGINE_ERRORS as exc:
        raise SourceError(
            f"the engine cannot inspect {reference!r} after pulling it", where=location
        ) from exc


def _engine_json(client: docker.DockerClient, what: str, path: str, *args: str) -> Any:
    """An engine answer through the capped JSON reader. The SDK's own `inspect_image` and
    `images` call `response.json()`: any size, any depth (RecursionError), any integer."""
    api: Any = client.api
    response = api._get(api._url(path, *args), stream=True)
    try:
        api._raise_for_status(response)  # ImageNotFound and APIError, as the SDK raises them
        cap = limit("IMGAUDIT_MAX_JSON_BYTES", JSON_CAP)
        data = response.raw.read(cap + 1, decode_content=True)
    finally:
        response.close()
    return load_json(data, what, engine_location(), SourceError)


def _inspect(client: docker.DockerClient, reference: str) -> Mapping[str, Any]:
    """The engine's description of an image, with the fields read here checked for type."""
    what = f"the engine's description of {reference!r}"
    attributes = _engine_json(client, what, "/images/{0}/json", reference)
    fields = Fields(attributes, what, engine_location(), SourceError)
    fields.text("Id")
    if not all(isinstance(tag, str) for tag in fields.items("RepoTags")):
        raise SourceError(f"{what}: RepoTags should be a list of strings", where=engine_location())
    layers = Fields(fields.mapping("RootFS"), f"{what}: RootFS", engine_location(), SourceError).items(
        "Layers"
    )
    if not all(isinstance(layer, str) for layer in layers):
        raise SourceError(f"{what}: RootFS.Layers should be a list of strings", where=engine_location())
    return fields.value


def _pull(
    client: docker.DockerClient,
    reference: str,
    platform: str | None,
    credentials: Credentials | None,
    location: str,
) -> None:
    auth = {"username": credentials.username, "password": credentials.password} if credentials else None
    try:
        chunks = client.api.pull(reference, platform=platform, auth_config=auth, stream=True, decode=False)
        for event in _progress_events(chunks, f"the engine's pull progress for {reference}", location):
            if isinstance(event, dict) and event.get("error"):
                raise SourceError(f"the engine could not pull {reference}: {event['error']}", where=location)
    except docker.errors.APIError as exc:
        explanation = str(exc.explanation or exc)
        raise SourceError(f"the engine could not pull {reference}: {explanation}", where=location) from exc
    except _ENGINE_ERRORS as exc:
        raise SourceError(
            f"the engine could not pull {reference} ({type(exc).__name__})", where=location
        ) from exc


MAX_PROGRESS_LINE = 1 << 20  # one progress event is a few hundred bytes


def _progress_events(chunks: Iterator[bytes | str], what: str, location: str) -> Iterator[Any]:
    """The engine's progress stream (one JSON object per line), each line through the capped
    reader: the SDK's decoder keeps an unfinished line whole, however long, and recurses."""
    pending = b""
    for chunk in chunks:
        pending += chunk.encode() if isinstance(chunk, str) else chunk
        *lines, pending = pending.split(b"\n")
        if len(pending) > MAX_PROGRESS_LINE:
            raise SourceError(f"{what} has a line longer than {MAX_PROGRESS_LINE} bytes", where=location)
        for line in lines:
            if line.strip():
                yield load_json(line, what, location, SourceError)
    if pending.strip():
        yield load_json(pending, what, location, SourceError)


def _local_base(
    client: docker.DockerClient, image: Mapping[str, Any], diff_ids: Sequence[str], location: str
) -> BaseImage | None:
    """The tagged local image whose layers are the longest proper prefix of this image's."""
    best: tuple[int, str, str] | None = None
    try:
        summaries = _engine_json(client, "the engine's list of images", "/images/json")
    except (*_ENGINE_ERRORS, SourceError):
        return None  # the base is a hint: an engine that cannot list its images gives none
    for summary in summaries if isinstance(summaries, list) else []:
        if not isinstance(summary, dict) or not isinstance(summary.get("Id"), str):
            continue
        tags = [t for t in summary.get("RepoTags") or [] if isinstance(t, str) and t != "<none>:<none>"]
        if not tags or summary.get("Id") == image.get("Id"):
            continue
        try:
            layers = _inspect(client, str(summary["Id"])).get("RootFS", {}).get("Layers") or []
        except (*_ENGINE_ERRORS, SourceError):
            continue
        count = len(layers)
        if 0 < count < len(diff_ids) and list(diff_ids[:count]) == layers:
            name = sorted(tags)[0]
            # The longest prefix wins; among images with the same layers, the first name.
            if best is None or count > best[0] or (count == best[0] and name < best[1]):
                best = (count, name, str(summary["Id"]))
    if best is None:
        return None
    return BaseImage(BaseMethod.LOCAL_IMAGE, best[0], name=best[1], digest=best[2])

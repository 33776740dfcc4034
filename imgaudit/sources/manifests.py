"""Image manifests and configs -> `ImageInfo` and `LayerDescriptor`s.

Shared by every source: Docker's `manifest.json`, OCI indexes and manifests (archives,
layouts, registries) all end in a config blob plus an ordered list of layer blobs.
"""

from __future__ import annotations

import hashlib
import platform as host_platform
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from imgaudit.errors import SourceError
from imgaudit.inputs import Fields, load_json
from imgaudit.model import HistoryEntry, ImageInfo, LayerDescriptor, Origin

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
MANIFEST_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)
NAME_ANNOTATIONS = ("io.containerd.image.name", "org.opencontainers.image.ref.name")
# What an image's config blob is; any other config type (Helm charts, signatures, SBOMs,
# WASM modules) makes the manifest an OCI artifact that has no filesystem to audit.
IMAGE_CONFIG_TYPES = frozenset(
    {
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)
_DIGEST = re.compile(r"(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})")


def parse_json(data: bytes, what: str, where: str) -> Any:
    """Every manifest, index and config goes through the capped reader (size, depth, digits)."""
    return load_json(data, what, where, SourceError)


def manifest_document(data: bytes, what: str, where: str) -> dict[str, Any]:
    """A manifest or an index, with the type of every field imgaudit reads checked here, at one
    boundary, so that no reader further on meets a list where it expects an object."""
    document = Fields(parse_json(data, what, where), what, where, SourceError)
    document.text("mediaType")
    document.strings("annotations")
    for name in ("manifests", "layers"):
        for item in document.items(name):
            _check_descriptor(item, f"{what}: an entry of {name}", where)
    if "config" in document.value:
        _check_descriptor(document.value["config"], f"{what}: config", where)
    return dict(document.value)


def _check_descriptor(value: object, what: str, where: str) -> None:
    descriptor = Fields(value, what, where, SourceError)
    descriptor.text("mediaType")
    descriptor.text("digest")
    descriptor.count("size")
    descriptor.strings("annotations")
    platform_string(descriptor.value.get("platform"), where)


def is_digest(text: str) -> bool:
    return _DIGEST.fullmatch(text) is not None


def checked_digest(value: object, where: str) -> str:
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise SourceError(f"invalid digest {value!r}", where=where)
    return value


def blob_name(digest: str) -> str:
    algorithm, _, hexpart = digest.partition(":")
    return f"blobs/{algorithm}/{hexpart}"


@dataclass(frozen=True, slots=True)
class LayerRef:
    name: str  # how the source finds the blob (an archive member, a digest)
    digest: str | None
    media_type: str | None
    size: int | None


@dataclass(slots=True)
class Candidate:
    """One image a source holds, before its config is read."""

    names: list[str]
    config_name: str
    layers: list[LayerRef]
    manifest_digest: str | None = None
    platform: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    config_media_type: str | None = None  # None: the format does not say (manifest.json)


def platform_string(spec: object, where: str = "") -> str | None:
    """`{"os": "linux", "architecture": "arm64", "variant": "v8"}` -> `linux/arm64/v8`."""
    if spec is None:
        return None
    fields = Fields(spec, "a platform", where, SourceError)
    os_name, architecture, variant = fields.text("os"), fields.text("architecture"), fields.text("variant")
    if not os_name:
        return None
    return "/".join([os_name, architecture or "", *([variant] if variant else [])])


def host_platform_string() -> str:
    machine = host_platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)
    return f"linux/{arch}"


def _platform_matches(candidate: str | None, wanted: str) -> bool:
    if candidate is None:
        return False
    if candidate == wanted:
        return True
    # `linux/arm64` asks for any arm64 variant; `linux/arm64/v8` is the usual one.
    return candidate.startswith(wanted + "/")


def _name_forms(name: str) -> set[str]:
    """`foo`, `foo:latest`, `docker.io/library/foo:latest` all name the same image."""
    forms = {name}
    base = name
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if base.startswith(prefix):
            base = base[len(prefix) :]
            forms.add(base)
    last = base.rsplit("/", 1)[-1]
    if ":" not in last and "@" not in last:
        forms.add(f"{base}:latest")
    forms.add(base)
    return forms


def select_candidate(
    candidates: Sequence[Candidate], image: str | None, platform: str | None, where: str
) -> Candidate:
    """Choose the image the user means; list the choices when that is ambiguous."""
    if not candidates:
        raise SourceError("no image found", where=where)
    chosen = list(candidates)
    if image and is_digest(image.rpartition("@")[2]):
        # `--image sha256:...` (or NAME@sha256:...): the manifest digest, or the config digest
        # that `docker images` shows as the image ID.
        digest = image.rpartition("@")[2]
        chosen = [c for c in chosen if digest in (c.manifest_digest, _digest_of_blob(c.config_name))]
        if not chosen:
            raise SourceError(
                f"no image with digest {digest}; it holds: {_describe_all(candidates)}", where=where
            )
    elif image:
        wanted = _name_forms(image)
        chosen = [c for c in chosen if any(_name_forms(n) & wanted for n in c.names)]
        if not chosen:
            raise SourceError(f"no image named {image!r}; it holds: {_describe_all(candidates)}", where=where)
    if platform:
        matching = [c for c in chosen if _platform_matches(c.platform, platform)]
        if not matching:
            raise SourceError(
                f"no image for platform {platform}; available: {_platforms(chosen)}", where=where
            )
        chosen = matching
    elif len({c.platform for c in chosen}) > 1:
        host = host_platform_string()
        matching = [c for c in chosen if _platform_matches(c.platform, host)]
        if not matching:
            raise SourceError(
                f"no image for this host's platform {host}; choose one with --platform: {_platforms(chosen)}",
                where=where,
            )
        chosen = matching
    if len(chosen) > 1:
        raise SourceError(
            f"it holds {len(chosen)} images; choose one with --image: {_describe_all(chosen)}",
            where=where,
        )
    return chosen[0]


def _digest_of_blob(name: str) -> str | None:
    algorithm, _, hexpart = name.removeprefix("blobs/").partition("/")
    if not hexpart:  # classic `docker save`: `<hex>.json`
        algorithm, hexpart = "sha256", name.removesuffix(".json")
    digest = f"{algorithm}:{hexpart}"
    return digest if is_digest(digest) else None


def _platforms(candidates: Sequence[Candidate]) -> str:
    return ", ".join(sorted({c.platform or "unknown" for c in candidates}))


def _describe_all(candidates: Sequence[Candidate]) -> str:
    labels = []
    for c in candidates:
        label = ", ".join(c.names) if c.names else (c.manifest_digest or c.config_name)
        if c.platform:
            label += f" [{c.platform}]"
        labels.append(label)
    return "; ".join(labels)


def _history(config: Fields, where: str) -> tuple[HistoryEntry, ...]:
    entries = []
    for item in config.items("history"):
        step = Fields(item, "the image config: a history entry", where, SourceError)
        entries.append(
            HistoryEntry(
                created_by=step.text("created_by") or "",
                empty_layer=bool(step.value.get("empty_layer", False)),
                created=step.text("created"),
                comment=step.text("comment"),
            )
        )
    return tuple(entries)


def describe_image(
    candidate: Candidate,
    config_bytes: bytes,
    origin: Origin,
    reference: str,
    warn: Callable[[str], None],
) -> tuple[ImageInfo, list[LayerDescriptor]]:
    """Read the config blob and tie each layer to the history entry that made it."""
    if candidate.config_media_type and candidate.config_media_type not in IMAGE_CONFIG_TYPES:
        raise SourceError(
            f"this is an OCI artifact ({candidate.config_media_type}), not an image: "
            "it has no filesystem to audit",
            where=origin.location,
        )
    config = Fields(
        parse_json(config_bytes, "the image config", origin.location),
        "the image config",
        origin.location,
        SourceError,
    )
    diff_ids = config.mapping("rootfs").get("diff_ids")
    if not isinstance(diff_ids, list):
        raise SourceError("the image config lists no rootfs.diff_ids", where=origin.location)
    if len(diff_ids) != len(candidate.layers):
        raise SourceError(
            f"the manifest lists {len(candidate.layers)} layers but the config {len(diff_ids)} diff_ids",
            where=origin.location,
        )
    history = _history(config, origin.location)
    # Only history entries without `empty_layer` made a layer; they match layers in order.
    layer_history = [h for h in history if not h.empty_layer]
    if history and len(layer_history) != len(diff_ids):
        warn(
            f"the config history names {len(layer_history)} layer-creating steps for "
            f"{len(diff_ids)} layers; instructions are matched from the bottom"
        )
    descriptors = []
    for index, (ref, diff_id) in enumerate(zip(candidate.layers, diff_ids, strict=True)):
        step = layer_history[index] if index < len(layer_history) else None
        descriptors.append(
            LayerDescriptor(
                index=index,
                diff_id=str(diff_id),
                digest=ref.digest,
                media_type=ref.media_type,
                blob_size=ref.size,
                created_by=step.created_by if step else None,
                created=step.created if step else None,
                comment=step.comment if step else None,
            )
        )
    info = ImageInfo(
        reference=reference,
        image_id="sha256:" + hashlib.sha256(config_bytes).hexdigest(),
        manifest_digest=candidate.manifest_digest,
        os=config.text("os"),
        architecture=config.text("architecture"),
        variant=config.text("variant"),
        created=config.text("created"),
        origin=origin,
        config=config.mapping("config"),
        history=history,
        annotations=dict(candidate.annotations),
    )
    return info, descriptors

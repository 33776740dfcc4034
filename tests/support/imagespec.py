"""Build image archives from declarative specs, in every layout and compression imgaudit reads.

    spec = ImageSpec(layers=[Layer([File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")])])
    write_image(spec, tmp_path / "image.tar", layout="docker-classic", compression="gzip")

Layouts: docker-classic (`<id>/layer.tar` + manifest.json), docker-oci (Docker 25+: both
manifest.json and index.json over blobs/sha256), oci-archive (a tar of an OCI layout, as
skopeo writes), oci-layout (a directory).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

LAYOUTS = ("docker-classic", "docker-oci", "oci-archive", "oci-layout")
COMPRESSIONS = ("none", "gzip", "zstd")
MTIME = 1_700_000_000


@dataclass(frozen=True)
class File:
    path: str
    data: bytes = b""
    mode: int = 0o644


@dataclass(frozen=True)
class Dir:
    path: str


@dataclass(frozen=True)
class Symlink:
    path: str
    target: str


@dataclass(frozen=True)
class Hardlink:
    path: str
    target: str


@dataclass(frozen=True)
class Whiteout:
    """Deletes `path` (and everything beneath it) from lower layers."""

    path: str


@dataclass(frozen=True)
class Opaque:
    """Hides the lower contents of directory `path`."""

    path: str


@dataclass(frozen=True)
class RawMember:
    """A tar member exactly as given (for hostile names)."""

    name: str
    data: bytes = b""


Entry = File | Dir | Symlink | Hardlink | Whiteout | Opaque | RawMember


@dataclass
class Layer:
    entries: Sequence[Entry]
    created_by: str = "RUN true"
    auto_parents: bool = True


@dataclass
class ImageSpec:
    layers: Sequence[Layer]
    tags: Sequence[str] = ("example/app:latest",)
    env: dict[str, str] = field(default_factory=lambda: {"PATH": "/usr/local/bin:/usr/bin:/bin"})
    user: str = ""
    workdir: str = ""
    # Explicit history (created_by, empty_layer); default: one entry per layer, then a CMD.
    history: Sequence[tuple[str, bool]] | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    architecture: str = "amd64"
    os: str = "linux"
    variant: str | None = None

    def history_entries(self) -> list[dict[str, Any]]:
        if self.history is None:
            steps = [(layer.created_by, False) for layer in self.layers] + [('CMD ["python3"]', True)]
        else:
            steps = list(self.history)
        entries = []
        for created_by, empty in steps:
            entry: dict[str, Any] = {"created": "2024-01-01T00:00:00Z", "created_by": created_by}
            if empty:
                entry["empty_layer"] = True
            entries.append(entry)
        return entries


def file(path: str, size: int, seed: int = 0) -> File:
    """A file of `size` deterministic bytes."""
    block = hashlib.sha256(f"{path}:{seed}".encode()).digest()
    return File(path, (block * (size // len(block) + 1))[:size])


def _parents(path: str) -> list[str]:
    parts = path.strip("/").split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def layer_tar(layer: Layer) -> bytes:
    buffer = io.BytesIO()
    seen_dirs: set[str] = set()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add_dir(path: str) -> None:
            if path in seen_dirs:
                return
            seen_dirs.add(path)
            info = tarfile.TarInfo(path + "/")
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = MTIME
            tar.addfile(info)

        for entry in layer.entries:
            if isinstance(entry, RawMember):
                info = tarfile.TarInfo(entry.name)
                info.size = len(entry.data)
                info.mtime = MTIME
                tar.addfile(info, io.BytesIO(entry.data))
                continue
            target_path = entry.path.strip("/")
            if layer.auto_parents:
                for parent in _parents(target_path):
                    add_dir(parent)
            if isinstance(entry, Dir):
                add_dir(target_path)
                continue
            if isinstance(entry, Whiteout):
                head, _, name = target_path.rpartition("/")
                info = tarfile.TarInfo(f"{head}/.wh.{name}" if head else f".wh.{name}")
            elif isinstance(entry, Opaque):
                info = tarfile.TarInfo(f"{target_path}/.wh..wh..opq")
            else:
                info = tarfile.TarInfo(target_path)
            info.mtime = MTIME
            if isinstance(entry, File):
                info.size = len(entry.data)
                info.mode = entry.mode
                tar.addfile(info, io.BytesIO(entry.data))
            elif isinstance(entry, Symlink):
                info.type = tarfile.SYMTYPE
                info.linkname = entry.target
                tar.addfile(info)
            elif isinstance(entry, Hardlink):
                info.type = tarfile.LNKTYPE
                info.linkname = entry.target.strip("/")
                tar.addfile(info)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


_LAYER_TYPES = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


@dataclass
class BuiltImage:
    spec: ImageSpec
    config: bytes
    config_digest: str
    manifest: bytes
    manifest_digest: str
    layer_blobs: list[tuple[str, bytes]]  # (digest, blob)
    diff_ids: list[str]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def build(spec: ImageSpec, compression: str = "none") -> BuiltImage:
    tars = [layer_tar(layer) for layer in spec.layers]
    blobs = [compress(t, compression) for t in tars]
    diff_ids = [_sha(t) for t in tars]
    config_obj: dict[str, Any] = {
        "architecture": spec.architecture,
        "os": spec.os,
        "created": "2024-01-01T00:00:00Z",
        "config": {
            "Env": [f"{k}={v}" for k, v in spec.env.items()],
            "User": spec.user,
            "WorkingDir": spec.workdir,
            "Cmd": ["python3"],
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": spec.history_entries(),
    }
    if spec.variant:
        config_obj["variant"] = spec.variant
    config = json.dumps(config_obj, sort_keys=True).encode()
    manifest_obj: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _sha(config),
            "size": len(config),
        },
        "layers": [
            {"mediaType": _LAYER_TYPES[compression], "digest": _sha(b), "size": len(b)} for b in blobs
        ],
    }
    if spec.annotations:
        manifest_obj["annotations"] = spec.annotations
    manifest = json.dumps(manifest_obj, sort_keys=True).encode()
    return BuiltImage(
        spec, config, _sha(config), manifest, _sha(manifest), [(_sha(b), b) for b in blobs], diff_ids
    )


def _blob_path(digest: str) -> str:
    return "blobs/sha256/" + digest.split(":", 1)[1]


def _platform(spec: ImageSpec) -> dict[str, str]:
    platform = {"os": spec.os, "architecture": spec.architecture}
    if spec.variant:
        platform["variant"] = spec.variant
    return platform


def layout_files(
    images: Sequence[BuiltImage], docker_manifest: bool, multi_platform_name: str | None = None
) -> dict[str, bytes]:
    """The files of an OCI layout (plus Docker's manifest.json when `docker_manifest`).

    With `multi_platform_name`, the images are platforms of one image behind a nested index.
    """
    files: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}'}
    descriptors = []
    for image in images:
        files[_blob_path(image.config_digest)] = image.config
        files[_blob_path(image.manifest_digest)] = image.manifest
        for digest, blob in image.layer_blobs:
            files[_blob_path(digest)] = blob
        descriptor: dict[str, Any] = {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": image.manifest_digest,
            "size": len(image.manifest),
        }
        if multi_platform_name:
            descriptor["platform"] = _platform(image.spec)
        elif image.spec.tags:
            tag = image.spec.tags[0]
            descriptor["annotations"] = {
                "io.containerd.image.name": tag,
                "org.opencontainers.image.ref.name": tag.rsplit(":", 1)[-1],
            }
        descriptors.append(descriptor)
    if multi_platform_name:
        nested = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": descriptors,
            }
        ).encode()
        files[_blob_path(_sha(nested))] = nested
        descriptors = [
            {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": _sha(nested),
                "size": len(nested),
                "annotations": {"io.containerd.image.name": multi_platform_name},
            }
        ]
    files["index.json"] = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descriptors}
    ).encode()
    if docker_manifest:
        files["manifest.json"] = json.dumps(
            [
                {
                    "Config": _blob_path(image.config_digest),
                    "RepoTags": list(image.spec.tags),
                    "Layers": [_blob_path(d) for d, _ in image.layer_blobs],
                }
                for image in images
            ]
        ).encode()
    return files


def classic_files(images: Sequence[BuiltImage]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    entries = []
    for image in images:
        config_name = image.config_digest.split(":", 1)[1] + ".json"
        files[config_name] = image.config
        layer_names = []
        for (digest, blob), diff_id in zip(image.layer_blobs, image.diff_ids, strict=True):
            name = diff_id.split(":", 1)[1][:40] + digest.split(":", 1)[1][:8] + "/layer.tar"
            files[name] = blob
            layer_names.append(name)
        entries.append({"Config": config_name, "RepoTags": list(image.spec.tags), "Layers": layer_names})
    files["manifest.json"] = json.dumps(entries).encode()
    return files


def write_tar(files: dict[str, bytes], path: Path) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = MTIME
            tar.addfile(info, io.BytesIO(data))
    return path


def write_dir(files: dict[str, bytes], path: Path) -> Path:
    for name, data in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return path


def write_image(
    specs: ImageSpec | Sequence[ImageSpec],
    path: Path,
    layout: str = "docker-classic",
    compression: str = "none",
) -> Path:
    """Write one or several images to `path` in the given layout."""
    spec_list = [specs] if isinstance(specs, ImageSpec) else list(specs)
    images = [build(s, compression) for s in spec_list]
    if layout == "docker-classic":
        return write_tar(classic_files(images), path)
    if layout == "docker-oci":
        return write_tar(layout_files(images, docker_manifest=True), path)
    if layout == "oci-archive":
        return write_tar(layout_files(images, docker_manifest=False), path)
    if layout == "oci-layout":
        return write_dir(layout_files(images, docker_manifest=False), path)
    raise ValueError(layout)

"""Archives laid out the way other tools write them, from declarative descriptions.

Each function reproduces one format detail of a named tool (no file of theirs is copied):

- older `docker save` (before the containerd image store): a layer that two saved images
  share is stored once; the other image's `<id>/layer.tar` is a symlink to it;
- containerd / nerdctl / `ctr export`: `index.json` names the image (`io.containerd.image.name`,
  `org.opencontainers.image.ref.name`) on a descriptor that points to a nested index, whose
  own manifests may carry other names;
- skopeo / oras `oci:` layouts: the same manifest listed under two tags, and two different
  manifests under one tag (pushed twice);
- `helm push` / oras: an OCI artifact, a manifest whose config is not an image config.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.imagespec import MTIME, BuiltImage

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
HELM_CONFIG_TYPE = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_path(digest: str) -> str:
    return "blobs/sha256/" + digest.split(":", 1)[1]


@dataclass
class TarEntry:
    """A member of an archive: a regular file, or a symlink when `link_to` is set."""

    name: str
    data: bytes = b""
    link_to: str | None = None


def write_entries(entries: Sequence[TarEntry], path: Path) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.mtime = MTIME
            if entry.link_to is not None:
                info.type, info.linkname = tarfile.SYMTYPE, entry.link_to
                tar.addfile(info)
            else:
                info.size = len(entry.data)
                tar.addfile(info, io.BytesIO(entry.data))
    return path


def old_docker_save(images: Sequence[BuiltImage], tags: Sequence[str]) -> list[TarEntry]:
    """`docker save a b` of Docker before 25: per layer a `<v1 id>/` folder with `VERSION`,
    `json` and `layer.tar`; a layer the images share is written once, and every later
    folder holding it gets `layer.tar -> ../<first folder>/layer.tar`."""
    entries: list[TarEntry] = []
    manifest = []
    first_folder: dict[str, str] = {}  # diff_id -> the folder that holds its bytes
    for image, tag in zip(images, tags, strict=True):
        config_name = image.config_digest.split(":", 1)[1] + ".json"
        entries.append(TarEntry(config_name, image.config))
        layers = []
        parent = ""
        for (_, blob), diff_id in zip(image.layer_blobs, image.diff_ids, strict=True):
            # v1 ids chain the parent's id: a shared layer gets a new folder per image
            folder = hashlib.sha256(f"{parent}{diff_id}{image.config_digest}".encode()).hexdigest()
            parent = folder
            entries.append(TarEntry(f"{folder}/VERSION", b"1.0"))
            entries.append(TarEntry(f"{folder}/json", json.dumps({"id": folder}).encode()))
            if diff_id in first_folder:
                entries.append(
                    TarEntry(f"{folder}/layer.tar", link_to=f"../{first_folder[diff_id]}/layer.tar")
                )
            else:
                first_folder[diff_id] = folder
                entries.append(TarEntry(f"{folder}/layer.tar", blob))
            layers.append(f"{folder}/layer.tar")
        manifest.append({"Config": config_name, "RepoTags": [tag], "Layers": layers})
    entries.append(TarEntry("manifest.json", json.dumps(manifest).encode()))
    return entries


@dataclass
class IndexEntry:
    """One descriptor of `index.json`: an image, or a nested index of several platforms."""

    images: Sequence[BuiltImage]
    names: dict[str, str] = field(default_factory=dict)  # annotations on this descriptor
    nested_names: dict[str, str] = field(default_factory=dict)  # on the nested manifests


def _platform(image: BuiltImage) -> dict[str, str]:
    return {"os": image.spec.os, "architecture": image.spec.architecture}


def oci_layout(
    entries: Sequence[IndexEntry], extra_blobs: dict[str, bytes] | None = None
) -> dict[str, bytes]:
    """An OCI image layout whose `index.json` lists `entries` in order; an entry of several
    images becomes a nested index, as containerd exports a multi-platform image."""
    files: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', **(extra_blobs or {})}
    descriptors: list[dict[str, Any]] = []
    for entry in entries:
        inner = []
        for image in entry.images:
            files[blob_path(image.config_digest)] = image.config
            files[blob_path(image.manifest_digest)] = image.manifest
            for digest, blob in image.layer_blobs:
                files[blob_path(digest)] = blob
            inner.append(
                {
                    "mediaType": MANIFEST_TYPE,
                    "digest": image.manifest_digest,
                    "size": len(image.manifest),
                    "platform": _platform(image),
                    **({"annotations": entry.nested_names} if entry.nested_names else {}),
                }
            )
        if len(inner) == 1 and not entry.nested_names:
            descriptor = {k: v for k, v in inner[0].items() if k != "platform"}
        else:
            nested = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": inner}).encode()
            files[blob_path(sha256(nested))] = nested
            descriptor = {"mediaType": INDEX_TYPE, "digest": sha256(nested), "size": len(nested)}
        if entry.names:
            descriptor["annotations"] = dict(entry.names)
        descriptors.append(descriptor)
    files["index.json"] = json.dumps(
        {"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": descriptors}
    ).encode()
    return files


def helm_chart_layout(chart: bytes, version: str) -> dict[str, bytes]:
    """`helm push` of a chart into an OCI layout: a config of Helm's type and one chart layer."""
    config = json.dumps({"name": "mychart", "version": version, "apiVersion": "v2"}).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"mediaType": HELM_CONFIG_TYPE, "digest": sha256(config), "size": len(config)},
            "layers": [{"mediaType": HELM_CHART_TYPE, "digest": sha256(chart), "size": len(chart)}],
        }
    ).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": MANIFEST_TYPE,
                "digest": sha256(manifest),
                "size": len(manifest),
                "annotations": {"org.opencontainers.image.ref.name": version},
            }
        ],
    }
    return {
        "oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
        blob_path(sha256(config)): config,
        blob_path(sha256(chart)): chart,
        blob_path(sha256(manifest)): manifest,
        "index.json": json.dumps(index).encode(),
    }

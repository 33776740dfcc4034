"""Byte figures of an image computed without imgaudit's readers: Python's `tarfile`, `json`,
`gzip` and `zstandard`, and the OCI changeset rules applied the plain way. Tests compare
imgaudit's report with these.

Formats: a `docker save`-style archive (manifest.json, layers possibly symlinked), an OCI
archive or layout (index.json, nested indexes followed to the first image), and skopeo's
`dir:` (manifest.json is the manifest, blobs named by hex).
"""

from __future__ import annotations

import gzip
import io
import json
import posixpath
import tarfile
from dataclasses import dataclass
from pathlib import Path

import zstandard


@dataclass(frozen=True)
class Figures:
    layer_file_bytes: list[int]  # regular-file bytes each layer ships
    wasted_bytes: list[int]  # of those, what no path of the final tree holds
    final_bytes: int  # the final tree's bytes, a hard-linked file counted once


def _files(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}
    files: dict[str, bytes] = {}
    links: dict[str, str] = {}
    with tarfile.open(path) as archive:
        for member in archive:
            name = posixpath.normpath(member.name)
            if member.issym():
                links[name] = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
            elif member.isfile():
                files[name] = archive.extractfile(member).read()  # type: ignore[union-attr]
    for name, target in links.items():
        files[name] = files[target]
    return files


def _blob(files: dict[str, bytes], digest: str) -> bytes:
    hexdigest = digest.split(":", 1)[1]
    return files.get(f"blobs/sha256/{hexdigest}") or files[hexdigest]


def layer_blobs(path: Path) -> list[bytes]:
    """The layer blobs of the (first) image, bottom first, as stored."""
    files = _files(path)
    if "index.json" in files and "manifest.json" not in files:
        document = json.loads(files["index.json"])
        while "manifests" in document:
            document = json.loads(_blob(files, document["manifests"][0]["digest"]))
        return [_blob(files, layer["digest"]) for layer in document["layers"]]
    manifest = json.loads(files["manifest.json"])
    if isinstance(manifest, dict):  # skopeo dir:
        return [_blob(files, layer["digest"]) for layer in manifest["layers"]]
    return [files[posixpath.normpath(name)] for name in manifest[0]["Layers"]]


def _inflate(blob: bytes) -> bytes:
    if blob[:2] == b"\x1f\x8b":
        return gzip.decompress(blob)
    if blob[:4] == b"\x28\xb5\x2f\xfd":
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True).read()
    return blob


def _members(blob: bytes) -> list[tarfile.TarInfo]:
    data = _inflate(blob)
    # Pad and terminate as Go's archive/tar reads a tar that ends on a member boundary.
    data += bytes(-len(data) % 512) + bytes(1024)
    with tarfile.open(fileobj=io.BytesIO(data)) as layer:
        return layer.getmembers()


def _clean(name: str) -> str:
    cleaned = posixpath.normpath("/" + name).lstrip("/")
    return "" if cleaned == "." else cleaned


def figures(path: Path) -> Figures:
    tree: dict[str, int | None] = {}  # path -> inode (None: a directory or a non-file)
    inodes: list[tuple[int, int]] = []  # inode -> (size, layer)
    shipped: list[int] = []
    blobs = layer_blobs(path)
    for index, blob in enumerate(blobs):
        members = _members(blob)
        for member in members:  # deletions first: they apply to the layers below
            directory, _, base = _clean(member.name).rpartition("/")
            prefix = directory + "/" if directory else ""
            if base == ".wh..wh..opq":
                for key in [k for k in tree if k.startswith(prefix)]:
                    del tree[key]
            elif base.startswith(".wh."):
                gone = prefix + base[4:]
                for key in [k for k in tree if k == gone or k.startswith(gone + "/")]:
                    del tree[key]
        shipped.append(0)
        for member in members:
            name = _clean(member.name)
            if not name or name.rpartition("/")[2].startswith(".wh."):
                continue
            for key in [k for k in tree if k.startswith(name + "/")] if not member.isdir() else []:
                del tree[key]
            if member.isfile():
                inodes.append((member.size, index))
                tree[name] = len(inodes) - 1
                shipped[-1] += member.size
            elif member.islnk():
                tree[name] = tree.get(_clean(member.linkname))
            elif not member.isdir() or tree.get(name) is not None:
                tree[name] = None
            else:
                tree.setdefault(name, None)
    live = {inode for inode in tree.values() if inode is not None}
    wasted = [0] * len(blobs)
    for inode, (size, layer) in enumerate(inodes):
        if inode not in live:
            wasted[layer] += size
    return Figures(shipped, wasted, sum(inodes[i][0] for i in live))

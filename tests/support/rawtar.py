"""Layer tars byte by byte, for headers no tar writer makes (a base-256 field, a stray zero
block, an odd whiteout), and a `docker save` archive around such layers (the config's
diff_ids are the layers' digests, so only the layer itself is odd).

    layer = header("a", 5) + data(b"hello") + END
    classic_archive([layer], tmp_path / "image.tar")
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.support.imagespec import MTIME, write_tar

BLOCK = 512
END = bytes(2 * BLOCK)


def checksummed(block: bytearray) -> bytes:
    """The header with its checksum field made right for its bytes."""
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block[:BLOCK])
    return bytes(block)


def header(
    name: str,
    size: int = 0,
    kind: bytes = tarfile.REGTYPE,
    linkname: str = "",
    edit: Callable[[bytearray], None] | None = None,
) -> bytes:
    """One GNU-format header block (`edit` changes its bytes; the checksum is then redone)."""
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname, info.mtime = size, kind, linkname, MTIME
    block = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    if edit is not None:
        edit(block)
        return checksummed(block[:BLOCK]) + bytes(block[BLOCK:])
    return bytes(block)


def data(content: bytes) -> bytes:
    """A member's data, padded to whole blocks."""
    return content + bytes(-len(content) % BLOCK)


def classic_archive(layers: Sequence[bytes], path: Path, tag: str = "raw/layers:1") -> Path:
    """A classic `docker save` archive of these uncompressed layer tars, bottom first."""
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": f"RUN step {i}"} for i in range(len(layers))],
        }
    ).encode()
    files = {"config.json": config}
    names = []
    for index, layer in enumerate(layers):
        names.append(f"{index:064d}/layer.tar")
        files[names[-1]] = layer
    files["manifest.json"] = json.dumps(
        [{"Config": "config.json", "RepoTags": [tag], "Layers": names}]
    ).encode()
    return write_tar(files, path)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def oci_archive(
    blobs: Sequence[bytes], diff_ids: Sequence[str], media_types: Sequence[str], path: Path
) -> Path:
    """An OCI archive of these layer blobs as stored (any compression, any media type said),
    the config naming `diff_ids`; every digest and size is the blob's own."""
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _sha256(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": media_type, "digest": _sha256(blob), "size": len(blob)}
                for blob, media_type in zip(blobs, media_types, strict=True)
            ],
        }
    ).encode()
    files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}'}
    for data_ in (config, manifest, *blobs):
        files[f"blobs/sha256/{_sha256(data_)[7:]}"] = data_
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _sha256(manifest),
                "size": len(manifest),
            }
        ],
    }
    files["index.json"] = json.dumps(index).encode()
    return write_tar(files, path)

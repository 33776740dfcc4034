"""The least any audit of a `docker save` archive can cost in Python once every layer's digest
is checked (issue 11): hash each layer blob and walk its tar headers, seeking over contents.
Nothing is classified, merged, advised or rendered, and only the standard library loads.

    python benchmarks/digest_floor.py image.tar

`versus_dive.py` times it beside dive as the "floor" row: when the floor alone is above half
of dive's time, no Python audit that verifies digests can meet issue 10's cold target there.
Both passes read through a mapping of the archive: no copy, and no faster way was measured
(hashing through mappings or through `preadv` into a buffer: within 4 % of each other here).
"""

from __future__ import annotations

import hashlib
import mmap
import sys
import tarfile
from pathlib import Path

BLOCK = 512


def layer_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The layer blobs: `<id>/layer.tar` (classic) or anything under `blobs/` over 1 MiB,
    which an OCI archive's small JSON documents are not."""
    return [
        member
        for member in archive.getmembers()
        if member.isfile()
        and (
            member.name.endswith("/layer.tar") or (member.name.startswith("blobs/") and member.size > 1 << 20)
        )
    ]


def main(path: str) -> None:
    with tarfile.open(path) as archive:
        members = layer_members(archive)
    entries = 0
    with Path(path).open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        view = memoryview(mapped)
        for member in members:
            start, end = member.offset_data, member.offset_data + member.size
            hashlib.sha256(view[start:end]).hexdigest()
            position = start
            while position + BLOCK <= end:
                header = mapped[position : position + BLOCK]
                if not header.strip(b"\0"):
                    break
                size = int(header[124:136].strip(b" \0") or b"0", 8)
                entries += 1
                position += BLOCK + -(-size // BLOCK) * BLOCK
        view.release()
    print(f"{len(members)} layers, {entries} headers")


if __name__ == "__main__":
    main(sys.argv[1])

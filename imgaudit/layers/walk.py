"""One layer tar -> a `LayerAnalysis`: entries, whiteouts and the few contents we need.

A pure function of the layer's bytes: no knowledge of other layers or of the image.
"""

from __future__ import annotations

import tarfile
from typing import BinaryIO

from imgaudit.layers.paths import basename, normalize, parent
from imgaudit.layers.tarstream import TarMember, iter_members
from imgaudit.layers.wanted import content_cap
from imgaudit.model import EntryKind, LayerAnalysis, LayerEntry

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


def _kind(member: TarMember) -> EntryKind:
    if member.is_regular:
        return EntryKind.FILE
    if member.type == tarfile.DIRTYPE:
        return EntryKind.DIR
    if member.type == tarfile.SYMTYPE:
        return EntryKind.SYMLINK
    if member.type == tarfile.LNKTYPE:
        return EntryKind.HARDLINK
    return EntryKind.OTHER


def _want(member: TarMember) -> int | None:
    path = normalize(member.name)
    if path is None:
        return None
    return content_cap(path, member.size)


def analyze_layer(stream: BinaryIO) -> LayerAnalysis:
    """Read a decompressed layer tar once, keeping headers and a few small contents."""
    entries: list[LayerEntry] = []
    contents: dict[str, bytes] = {}
    warnings: list[str] = []
    for member, content in iter_members(stream, _want):
        path = normalize(member.name)
        if path is None:
            warnings.append(f"ignored tar entry that escapes the image root: {member.name!r}")
            continue
        if not path:
            continue  # the root directory itself
        name = basename(path)
        if name.startswith(WHITEOUT_PREFIX):
            if name == OPAQUE_MARKER:
                entries.append(LayerEntry(parent(path), EntryKind.OPAQUE))
            elif not name.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
                # `.wh..wh.*` other than the opaque marker is AUFS bookkeeping: no meaning here.
                target = parent(path)
                target = f"{target}/{name[len(WHITEOUT_PREFIX) :]}" if target else name[4:]
                entries.append(LayerEntry(target, EntryKind.WHITEOUT))
            continue
        kind = _kind(member)
        link: str | None = None
        if kind is EntryKind.HARDLINK:
            link = normalize(member.linkname)
            if link is None or not link:
                warnings.append(
                    f"ignored hard link {path!r} whose target escapes the image root: {member.linkname!r}"
                )
                continue
        elif kind is EntryKind.SYMLINK:
            link = member.linkname
        entries.append(LayerEntry(path, kind, member.size if kind is EntryKind.FILE else 0, link))
        if content is not None:
            contents[path] = content
    return LayerAnalysis(tuple(entries), contents, tuple(warnings))

"""One layer tar -> a `LayerAnalysis`: entries, whiteouts and the few contents we need.

A pure function of the layer's bytes (and of the kept-content budget, when one runs out):
no knowledge of other layers or of the image.
"""

from __future__ import annotations

import tarfile
from typing import BinaryIO

from imgaudit.layers.collector import collector_paused
from imgaudit.layers.paths import basename, normalize_entry, parent
from imgaudit.layers.tarstream import TarReader
from imgaudit.layers.wanted import ContentBudget, content_cap
from imgaudit.model import EntryKind, LayerAnalysis, LayerEntry

WHITEOUT_PREFIX = ".wh."
_NOT_NAMES = frozenset(("", ".", ".."))
OPAQUE_MARKER = ".wh..wh..opq"

_KINDS: dict[int, EntryKind] = {t[0]: EntryKind.FILE for t in tarfile.REGULAR_TYPES}
_KINDS.update(
    {
        tarfile.DIRTYPE[0]: EntryKind.DIR,
        tarfile.SYMTYPE[0]: EntryKind.SYMLINK,
        tarfile.LNKTYPE[0]: EntryKind.HARDLINK,
    }
)
_CARRIES_DATA = frozenset(code for code, kind in _KINDS.items() if kind is EntryKind.FILE)
_FILE, _DIR, _SYMLINK, _HARDLINK, _OTHER = (
    EntryKind.FILE,
    EntryKind.DIR,
    EntryKind.SYMLINK,
    EntryKind.HARDLINK,
    EntryKind.OTHER,
)


def _whiteout(path: str) -> LayerEntry | None:
    """The entry a `.wh.` name stands for; None for AUFS bookkeeping (`.wh..wh.*`)."""
    directory, _, name = path.rpartition("/")
    if name == OPAQUE_MARKER:
        return LayerEntry(directory, EntryKind.OPAQUE)
    if name.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
        return None
    target = name[len(WHITEOUT_PREFIX) :]
    return LayerEntry(f"{directory}/{target}" if directory else target, EntryKind.WHITEOUT)


@collector_paused()
def analyze_layer(stream: BinaryIO, budget: ContentBudget | None = None) -> LayerAnalysis:
    """Read a decompressed layer tar once, keeping headers and a few small contents.

    `budget` bounds the kept contents of a whole image (a fresh one bounds this layer alone).
    """
    budget = budget or ContentBudget()
    refused_before = budget.refused
    entries: list[LayerEntry] = []
    append = entries.append
    contents: dict[str, bytes] = {}
    warnings: list[str] = []
    reader = TarReader(stream)
    kinds_get = _KINDS.get
    # tuple.__new__ builds the named tuple without its Python-level __new__: 0.14 vs 0.34 us.
    new, entry_type = tuple.__new__, LayerEntry
    for name, type_code, size, linkname in reader:
        # The common name needs no cleaning: no leading `/` or `.`, no `//`, no `/.`.
        if name[:1] in ("/", ".") or "//" in name or "/." in name:
            path = normalize_entry(name)
            if path is None:
                warnings.append(f"ignored tar entry that escapes the image root: {name!r}")
                continue
        else:
            path = name[:-1] if name[-1:] == "/" else name
        if not path:
            if size and type_code in _CARRIES_DATA:
                warnings.append(f"ignored {size} bytes carried by {name!r}, the image root (not extracted)")
            continue  # the root directory itself
        if ".wh." in path and path.rpartition("/")[2].startswith(WHITEOUT_PREFIX):
            if size and type_code in _CARRIES_DATA:
                # The data of a whiteout ships in the layer; no engine extracts it.
                warnings.append(f"ignored {size} bytes carried by whiteout {name!r} (not extracted)")
            whiteout = _whiteout(path)
            if (
                whiteout is not None
                and whiteout.kind is EntryKind.WHITEOUT
                and basename(whiteout.path) in _NOT_NAMES
            ):
                # `.wh.`, `.wh..`, `.wh...` name the directory itself or its parent: the engines'
                # appliers fail on them (mknod over an existing directory); nothing is deleted.
                warnings.append(f"ignored whiteout that names no file: {name!r}")
            elif whiteout is not None:
                append(whiteout)
            continue
        kind = kinds_get(type_code, _OTHER)
        if kind is _FILE:
            append(new(entry_type, (path, _FILE, size, None)))
            cap = content_cap(path, size)
            if cap is not None and budget.take(min(cap, size)):
                contents[path] = reader.content(cap)
        elif kind is _DIR:
            append(new(entry_type, (path, _DIR, 0, None)))
        elif kind is _HARDLINK:
            link = normalize_entry(linkname)
            if not link:
                warnings.append(
                    f"ignored hard link {path!r} whose target escapes the image root: {linkname!r}"
                )
                continue
            append(LayerEntry(path, _HARDLINK, 0, link))
        elif kind is _SYMLINK:
            append(LayerEntry(path, _SYMLINK, 0, linkname))
        else:
            append(LayerEntry(path, _OTHER))
    warnings.extend(reader.warnings)
    if budget.refused > refused_before:
        warnings.append(
            f"{budget.refused - refused_before} small files (package lists, lock files) were not kept: "
            f"the image's kept contents exceed {budget.limit // (1 << 20)} MiB; "
            "classification may miss what they would have told"
        )
    return LayerAnalysis(tuple(entries), contents, tuple(warnings))


__all__ = ["OPAQUE_MARKER", "WHITEOUT_PREFIX", "analyze_layer", "parent"]

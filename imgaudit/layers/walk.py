"""One layer tar -> a `LayerAnalysis`: entries, whiteouts and the few contents we need.

A pure function of the layer's bytes (and of the kept-content budget, when one runs out):
no knowledge of other layers or of the image.
"""

from __future__ import annotations

import tarfile
from typing import BinaryIO

from imgaudit.layers.collector import collector_paused
from imgaudit.layers.paths import basename, normalize_entry, parent
from imgaudit.layers.symlinks import MAX_HOPS, LayerLinks, TooManyLinks
from imgaudit.layers.tarstream import PATH_MAX_BYTES, TarReader, name_budget, names_refused
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
_SYMTYPE, _DIRTYPE = tarfile.SYMTYPE[0], tarfile.DIRTYPE[0]
_CARRIES_DATA = frozenset(code for code, kind in _KINDS.items() if kind is EntryKind.FILE)
_FILE, _DIR, _SYMLINK, _HARDLINK, _OTHER = (
    EntryKind.FILE,
    EntryKind.DIR,
    EntryKind.SYMLINK,
    EntryKind.HARDLINK,
    EntryKind.OTHER,
)


def _overlong(path: str) -> bool:
    return len(path) > PATH_MAX_BYTES // 4 and len(path.encode("utf-8", "surrogateescape")) > PATH_MAX_BYTES


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
    links, linking = LayerLinks(), False
    memo_get = links.memo.get
    grown, name_cap = 0, name_budget()
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
        if linking or type_code == _SYMTYPE:
            # Through the symlinks this layer wrote before (layers.symlinks); until it writes
            # one, an entry costs this test alone, and then a lookup of its directory.
            linking = True
            directory, _, base = path.rpartition("/")
            found = memo_get(directory)
            if found is None:
                try:
                    found = links.directory(directory)
                except TooManyLinks:
                    warnings.append(
                        f"ignored tar entry whose directory goes through more than {MAX_HOPS} "
                        f"symlinks (the engines refuse the layer): {name!r}"
                    )
                    continue
            resolved, node = found
            if resolved is not directory:
                resolved = f"{resolved}/{base}" if resolved else base
                if _overlong(resolved):
                    warnings.append(
                        "ignored tar entry whose name, through the layer's symlinks, is longer than "
                        f"{PATH_MAX_BYTES} bytes (engines cannot extract it): {name[:60]!r}"
                    )
                    continue
                # A short name under a long link is a long name: counted as pax names are.
                grown += len(resolved) - len(path)
                if grown > name_cap:
                    raise names_refused(name_cap, "layer tar's entries, through its symlinks, have")
                path = resolved
            if type_code == _SYMTYPE:
                links.link(path, linkname, node)
            elif node is None:
                pass  # no link is at or beneath this path
            elif base.startswith(WHITEOUT_PREFIX):
                if base != OPAQUE_MARKER:  # an opaque directory keeps what this layer wrote
                    links.remove(node, base[len(WHITEOUT_PREFIX) :])
            elif type_code == _DIRTYPE:
                links.unlink(node, base)
            elif base in node.children:
                links.remove(node, base)
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
            if link and linking:
                try:  # the target's directory too (containerd's hardlinkRootPath)
                    link = links.resolve(link)[0]
                except TooManyLinks:
                    warnings.append(
                        f"ignored hard link {path!r} whose target's directory goes through more "
                        f"than {MAX_HOPS} symlinks (the engines refuse the layer): {linkname!r}"
                    )
                    continue
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

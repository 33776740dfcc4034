"""Apply layer analyses in order, with OCI overlay semantics, and account for every byte.

Two views come out (as syft has them): the *squashed* filesystem the container runs, and the
*all layers* view of what ships. Every regular file a layer ships is an inode charged to that
layer; an inode that no path of the final filesystem reaches any more is wasted, and charged
to the layer that shipped it. So `total == final + wasted` holds by construction.

Overlay rules (OCI image spec, "Applying changesets"):
- a layer's whiteouts apply to the layers below it, so they run before its additions;
- `.wh.NAME` deletes NAME and everything beneath it;
- `.wh..wh..opq` in D hides everything below D from lower layers, D itself stays;
- a non-directory replaces whatever was at its path (a whole directory included);
- a directory replaces a non-directory at its path, and merges with a lower directory;
- hard links share their target's bytes, which count once while any link remains.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from imgaudit.layers.paths import parent
from imgaudit.model import EntryKind, LayerAnalysis


class Removal(StrEnum):
    DELETED = "deleted"  # a whiteout in a later layer
    HIDDEN = "hidden"  # an opaque directory in a later layer
    OVERWRITTEN = "overwritten"  # a later layer wrote the same path
    REPLACED = "replaced"  # a later layer put a file where a directory was, or the reverse


@dataclass(frozen=True, slots=True)
class FinalFile:
    """A path of the squashed filesystem that is not a directory."""

    path: str
    kind: EntryKind
    size: int  # bytes charged to this path: a hard-linked inode counts at one path only
    layer: int  # index of the layer that shipped the version the container sees


@dataclass(frozen=True, slots=True)
class WastedFile:
    path: str
    size: int
    shipped_by: int
    removed_by: int
    removal: Removal
    root: str  # the path the removing layer acted on (the deleted directory, for instance)


@dataclass(frozen=True, slots=True)
class LayerStats:
    index: int
    size_bytes: int  # regular-file bytes the layer ships
    files: int
    wasted_bytes: int  # of size_bytes, what no final path reaches


@dataclass(frozen=True, slots=True)
class MergedFilesystem:
    files: tuple[FinalFile, ...]  # sorted by path
    contents: Mapping[str, bytes]  # kept contents of final files (see layers.wanted)
    layers: tuple[LayerStats, ...]
    wasted: tuple[WastedFile, ...]
    warnings: tuple[str, ...]
    # Hard links: a final path whose inode's bytes another final path carries -> that path.
    links: Mapping[str, str] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        return sum(layer.size_bytes for layer in self.layers)

    @property
    def final_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def wasted_bytes(self) -> int:
        return sum(w.size for w in self.wasted)

    def file_map(self) -> dict[str, FinalFile]:
        return {f.path: f for f in self.files}


class _Inode:
    __slots__ = ("last_removal", "layer", "links", "origin", "size")

    def __init__(self, size: int, layer: int, origin: str) -> None:
        self.size = size
        self.layer = layer
        self.links = 0
        self.origin = origin  # the path the layer shipped it at
        self.last_removal: WastedFile | None = None


class _Node:
    __slots__ = ("children", "inode", "kind", "layer")

    def __init__(
        self, kind: EntryKind, layer: int, inode: _Inode | None = None, is_dir: bool = False
    ) -> None:
        self.kind = kind
        self.layer = layer
        self.inode = inode
        self.children: dict[str, _Node] | None = {} if is_dir else None


class _Overlay:
    def __init__(self) -> None:
        self.root = _Node(EntryKind.DIR, -1, is_dir=True)
        self.inodes: list[_Inode] = []
        self.warnings: list[str] = []

    # -- removal -------------------------------------------------------------------
    def _walk(self, path: str, node: _Node) -> Iterator[tuple[str, _Node]]:
        stack = [(path, node)]
        while stack:
            current, item = stack.pop()
            if item.children is None:
                yield current, item
            else:
                stack.extend((f"{current}/{name}", child) for name, child in item.children.items())

    def _discard(self, path: str, node: _Node, layer: int, removal: Removal) -> None:
        for file_path, item in self._walk(path, node):
            inode = item.inode
            if inode is None:
                continue
            inode.links -= 1
            if inode.links == 0:
                # Waste is decided at the end: a hard link added later may reach it again.
                inode.last_removal = WastedFile(file_path, inode.size, inode.layer, layer, removal, path)

    def _lookup(self, path: str) -> _Node | None:
        node: _Node | None = self.root
        if not path:
            return node
        for name in path.split("/"):
            if node is None or node.children is None:
                return None
            node = node.children.get(name)
        return node

    def _parent_dir(self, path: str, layer: int) -> _Node:
        """The directory that holds `path`, created (or put in place of a file) as needed."""
        node = self.root
        walked = ""
        for name in path.split("/")[:-1]:
            walked = f"{walked}/{name}" if walked else name
            assert node.children is not None
            child = node.children.get(name)
            if child is None or child.children is None:
                if child is not None:
                    self._discard(walked, child, layer, Removal.REPLACED)
                child = _Node(EntryKind.DIR, layer, is_dir=True)
                node.children[name] = child
            node = child
        return node

    def delete(self, path: str, layer: int) -> None:
        directory = self._lookup(parent(path))
        if directory is None or directory.children is None:
            return
        node = directory.children.pop(path.rpartition("/")[2], None)
        if node is not None:
            self._discard(path, node, layer, Removal.DELETED)

    def hide_lower(self, path: str, layer: int) -> None:
        node = self._lookup(path)
        if node is None or node.children is None:
            return
        for name, child in list(node.children.items()):
            self._discard(f"{path}/{name}" if path else name, child, layer, Removal.HIDDEN)
        node.children.clear()

    # -- addition ------------------------------------------------------------------
    def add_dir(self, path: str, layer: int) -> None:
        directory = self._parent_dir(path, layer)
        assert directory.children is not None
        name = path.rpartition("/")[2]
        existing = directory.children.get(name)
        if existing is not None and existing.children is not None:
            return
        if existing is not None:
            self._discard(path, existing, layer, Removal.REPLACED)
        directory.children[name] = _Node(EntryKind.DIR, layer, is_dir=True)

    def add_leaf(self, path: str, kind: EntryKind, inode: _Inode | None, layer: int) -> None:
        directory = self._parent_dir(path, layer)
        assert directory.children is not None
        name = path.rpartition("/")[2]
        existing = directory.children.get(name)
        if existing is not None:
            removal = Removal.OVERWRITTEN if existing.children is None else Removal.REPLACED
            self._discard(path, existing, layer, removal)
        if inode is not None:
            inode.links += 1
        directory.children[name] = _Node(kind, layer, inode)

    def new_inode(self, size: int, layer: int, origin: str) -> _Inode:
        inode = _Inode(size, layer, origin)
        self.inodes.append(inode)
        return inode

    def wasted(self) -> list[WastedFile]:
        return [i.last_removal for i in self.inodes if i.links == 0 and i.size and i.last_removal]

    def inode_at(self, path: str) -> _Inode | None:
        node = self._lookup(path)
        return None if node is None else node.inode

    # -- final view ----------------------------------------------------------------
    def final_files(self) -> list[tuple[str, _Node]]:
        leaves = [(p, n) for p, n in self._walk("", self.root) if n.children is None]
        return sorted((p.lstrip("/"), n) for p, n in leaves)


def merge_layers(analyses: Sequence[LayerAnalysis]) -> MergedFilesystem:
    """Apply the layers bottom-up and account for each byte they ship."""
    overlay = _Overlay()
    shipped = [0] * len(analyses)
    counts = [0] * len(analyses)
    for index, analysis in enumerate(analyses):
        overlay.warnings.extend(f"layer {index}: {w}" for w in analysis.warnings)
        for entry in analysis.entries:
            if entry.kind is EntryKind.WHITEOUT:
                overlay.delete(entry.path, index)
            elif entry.kind is EntryKind.OPAQUE:
                overlay.hide_lower(entry.path, index)
        for entry in analysis.entries:
            kind = entry.kind
            if kind is EntryKind.DIR:
                overlay.add_dir(entry.path, index)
            elif kind is EntryKind.FILE:
                shipped[index] += entry.size
                counts[index] += 1
                overlay.add_leaf(entry.path, kind, overlay.new_inode(entry.size, index, entry.path), index)
            elif kind is EntryKind.HARDLINK:
                assert entry.link is not None
                target = overlay.inode_at(entry.link)
                if target is None:
                    overlay.warnings.append(
                        f"layer {index}: hard link {entry.path!r} points at missing {entry.link!r}"
                    )
                overlay.add_leaf(entry.path, kind, target, index)
            elif kind in (EntryKind.SYMLINK, EntryKind.OTHER):
                overlay.add_leaf(entry.path, kind, None, index)

    files: list[FinalFile] = []
    owner: dict[int, str] = {}  # id(inode) -> the path that carries its bytes
    leaves = overlay.final_files()
    for path, node in leaves:
        inode = node.inode
        if inode is None:
            continue
        key = id(inode)
        # The path the layer shipped the bytes at carries them; else the first link by name.
        if key not in owner or path == inode.origin:
            owner[key] = path
    contents: dict[str, bytes] = {}
    links: dict[str, str] = {}
    for path, node in leaves:
        inode = node.inode
        size = inode.size if inode is not None and owner.get(id(inode)) == path else 0
        if inode is not None and not size and inode.size:
            links[path] = owner[id(inode)]
        layer = inode.layer if inode is not None else node.layer
        files.append(FinalFile(path, node.kind, size, layer))
        kept = analyses[node.layer].contents.get(path) if node.layer >= 0 else None
        if kept is not None:
            contents[path] = kept

    wasted = overlay.wasted()
    wasted_by_layer = [0] * len(analyses)
    for item in wasted:
        wasted_by_layer[item.shipped_by] += item.size
    layers = tuple(LayerStats(i, shipped[i], counts[i], wasted_by_layer[i]) for i in range(len(analyses)))
    return MergedFilesystem(tuple(files), contents, layers, tuple(wasted), tuple(overlay.warnings), links)

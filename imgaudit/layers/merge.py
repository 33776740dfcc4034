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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice, repeat
from operator import itemgetter
from typing import NamedTuple, TypeAlias, Union

from imgaudit.errors import LayerError
from imgaudit.inputs import limit
from imgaudit.layers.collector import collector_paused
from imgaudit.layers.paths import parent
from imgaudit.layers.tarstream import name_budget, names_refused
from imgaudit.model import EntryKind, LayerAnalysis


class Removal(StrEnum):
    DELETED = "deleted"  # a whiteout in a later layer
    HIDDEN = "hidden"  # an opaque directory in a later layer
    OVERWRITTEN = "overwritten"  # a later layer wrote the same path
    REPLACED = "replaced"  # a later layer put a file where a directory was, or the reverse


class FinalFile(NamedTuple):
    """A path of the squashed filesystem that is not a directory.

    A named tuple: an image has 10^5 of them, and a tuple is built 2.5x faster than a
    frozen dataclass."""

    path: str
    kind: EntryKind
    size: int  # bytes charged to this path: a hard-linked inode counts at one path only
    layer: int  # index of the layer that shipped the version the container sees


class WastedFile(NamedTuple):
    """A file a layer shipped that no path of the final filesystem reaches.

    A named tuple, as FinalFile: an image may waste 10^5 files, and a frozen dataclass is
    built about ten times slower (measured 2.5 vs 0.2 us)."""

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


# The tree, measured to be the cheap layout (250k entries: 2.1 s -> 0.4 s): a directory is
# a plain dict of its children; anything else is a leaf tuple that carries its own full path
# (so neither removal nor the final listing builds path strings), and a regular file's bytes
# are an inode number into parallel lists (hard links share the number). Directories are
# found by their path through `_Overlay.dirs`, so an entry costs one split and two dict
# lookups instead of a walk from the root.
_Leaf: TypeAlias = tuple[str, EntryKind, int, int]  # path, kind, layer that put it there, inode or -1
_Tree: TypeAlias = dict[str, Union["_Tree", _Leaf]]
_NO_INODE = -1
# Directories the tree holds, every layer's together, about 200 bytes each: a real image has
# some 10^5. A name 2,000 levels deep implies 2,000 of them, so a 25 KB gzip layer of 1,000
# such names took 406 MB (README: Limits).
MAX_DIRECTORIES = 1_000_000
DIRECTORY_BUDGET_VARIABLE = "IMGAUDIT_MAX_DIRECTORIES"


class _Overlay:
    def __init__(self) -> None:
        self.root: _Tree = {}
        # Directory path -> its children. Emptied (in place) when a directory leaves the tree.
        self.dirs: dict[str, _Tree] = {"": self.root}
        self.sizes: list[int] = []  # per inode
        self.layers: list[int] = []  # per inode: the layer that shipped it
        self.origins: list[str] = []  # per inode: the path that layer shipped it at
        self.links: list[int] = []  # per inode: paths of the tree that reach it
        self.linked: set[int] = set()  # inodes a hard link reached: their bytes have a carrier
        # Waste is decided at the end (a hard link added later may reach an inode again):
        # per inode, the last removal that left it unreachable.
        self.removals: dict[int, tuple[str, int, Removal, str]] = {}
        self.warnings: list[str] = []
        self.directories, self.directory_cap = 0, limit(DIRECTORY_BUDGET_VARIABLE, MAX_DIRECTORIES)

    # -- removal -------------------------------------------------------------------
    def _discard(self, root: str, node: _Tree | _Leaf, layer: int, removal: Removal) -> None:
        if isinstance(node, dict):
            self.dirs.clear()
            self.dirs[""] = self.root
        links = self.links
        stack = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
                continue
            inode = item[3]
            if inode == _NO_INODE:
                continue
            links[inode] -= 1
            if links[inode] == 0:
                self.removals[inode] = (item[0], layer, removal, root)

    def lookup_dir(self, path: str) -> _Tree | None:
        found = self.dirs.get(path)
        if found is not None:
            return found
        node: _Tree | _Leaf | None = self.root
        for name in path.split("/"):
            if not isinstance(node, dict):
                return None
            node = node.get(name)
        if not isinstance(node, dict):
            return None
        self.dirs[path] = node
        return node

    def parent_dir(self, path: str, layer: int) -> _Tree:
        """The directory `path`, created (or put in place of a file) as needed."""
        found = self.dirs.get(path)
        if found is not None:
            return found
        # Siblings share their parent: once it is known by its path, a new sibling is one step.
        parent_path, _, last = path.rpartition("/")
        above = self.dirs.get(parent_path) if parent_path else self.root
        if above is None:
            # From the root, building no prefix strings (a file in the way aside): building
            # them made each walk down a deep path quadratic (2,000 levels: 4 MB of strings).
            names = path.split("/")
            above = self.root
            for depth in range(len(names) - 1):
                above = self._directory_in(above, names[depth], layer, names, depth)
            self.dirs[parent_path] = above
        node = self._directory_in(above, last, layer, None, path)
        self.dirs[path] = node
        return node

    def _directory_in(
        self, node: _Tree, name: str, layer: int, names: list[str] | None, where: int | str
    ) -> _Tree:
        """The child directory `name` of `node`, created (in place of a file) as needed; the
        child's path is `where`, or the first `where + 1` of `names`."""
        child = node.get(name)
        if isinstance(child, dict):
            return child
        if child is not None:
            path = "/".join(names[: int(where) + 1]) if names is not None else str(where)
            self._discard(path, child, layer, Removal.REPLACED)
        created = self._new_directory()
        node[name] = created
        return created

    def _new_directory(self) -> _Tree:
        """Every directory the tree gets counts: one deep name implies thousands of them."""
        self.directories += 1
        if self.directories > self.directory_cap:
            raise LayerError(
                f"the image's entries make more than {self.directory_cap} directories "
                f"(raise it with {DIRECTORY_BUDGET_VARIABLE})"
            )
        return {}

    def delete(self, path: str, layer: int) -> None:
        directory = self.lookup_dir(parent(path))
        if directory is None:
            return
        node = directory.pop(path.rpartition("/")[2], None)
        if node is not None:
            self._discard(path, node, layer, Removal.DELETED)

    def hide_lower(self, path: str, layer: int) -> None:
        node = self.lookup_dir(path)
        if node is None:
            return
        for name, child in list(node.items()):
            self._discard(f"{path}/{name}" if path else name, child, layer, Removal.HIDDEN)
        node.clear()
        self.dirs.clear()
        self.dirs[""] = self.root

    # -- addition ------------------------------------------------------------------
    def add_dir(self, path: str, layer: int) -> None:
        parent_path, _, name = path.rpartition("/")
        directory = self.parent_dir(parent_path, layer)
        existing = directory.get(name)
        if isinstance(existing, dict):
            return
        if existing is not None:
            self._discard(path, existing, layer, Removal.REPLACED)
        created = self._new_directory()
        directory[name] = created
        self.dirs[path] = created

    def add_leaf(self, path: str, kind: EntryKind, inode: int, layer: int) -> None:
        parent_path, _, name = path.rpartition("/")
        directory = self.dirs.get(parent_path)
        if directory is None:
            directory = self.parent_dir(parent_path, layer)
        existing = directory.get(name)
        if existing is not None:
            removal = Removal.REPLACED if isinstance(existing, dict) else Removal.OVERWRITTEN
            self._discard(path, existing, layer, removal)
        if inode != _NO_INODE:
            self.links[inode] += 1
            if kind is EntryKind.HARDLINK:
                self.linked.add(inode)
        directory[name] = (path, kind, layer, inode)

    def leaf_at(self, path: str) -> _Leaf | None:
        directory = self.lookup_dir(parent(path))
        leaf = directory.get(path.rpartition("/")[2]) if directory is not None else None
        return None if leaf is None or isinstance(leaf, dict) else leaf

    def odd_link(self, path: str, link: str) -> str:
        """Why a hard link shares no file's bytes, or why the engines refuse it (they remove
        what is at its path, then find its target gone)."""
        if link == path:
            return "points at itself"
        if self.lookup_dir(link) is not None:
            return f"points at directory {link!r}"
        leaf = self.leaf_at(link)
        if leaf is not None:
            return f"points at {leaf[1]} {link!r}, not a file"
        return f"points at missing {link!r}"

    def inode_at(self, path: str) -> int:
        leaf = self.leaf_at(path)
        return _NO_INODE if leaf is None else leaf[3]

    def wasted(self) -> list[WastedFile]:
        sizes, layers, links = self.sizes, self.layers, self.links
        new = tuple.__new__  # builds the named tuple without its Python-level __new__
        return [
            new(WastedFile, (path, sizes[inode], layers[inode], removed_by, removal, root))
            for inode, (path, removed_by, removal, root) in sorted(self.removals.items())
            if links[inode] == 0 and sizes[inode]
        ]

    def leaves(self) -> list[_Leaf]:
        """Every non-directory of the final tree, sorted by path."""
        found: list[_Leaf] = []
        stack = [self.root]
        while stack:
            for child in stack.pop().values():
                if isinstance(child, dict):
                    stack.append(child)
                else:
                    found.append(child)
        found.sort(key=itemgetter(0))
        return found


class Merger:
    """Applies layer analyses one at a time, bottom-up, so a caller may drop each analysis's
    entries as soon as it is applied; `result()` (once) gives the merged filesystem."""

    def __init__(self) -> None:
        self._overlay = _Overlay()
        self._shipped: list[int] = []
        self._counts: list[int] = []
        self._contents: list[Mapping[str, bytes]] = []
        self._name_bytes, self._name_cap = 0, name_budget()

    @collector_paused()
    def add(self, analysis: LayerAnalysis) -> None:
        overlay = self._overlay
        index = len(self._shipped)
        overlay.warnings.extend(f"layer {index}: {w}" for w in analysis.warnings)
        self._contents.append(analysis.contents)
        entries = analysis.entries
        # Every layer's names and link targets together, cached analyses included.
        self._name_bytes += sum(map(len, map(itemgetter(0), entries)))
        self._name_bytes += sum(map(len, filter(None, map(itemgetter(3), entries))))
        if self._name_bytes > self._name_cap:
            raise names_refused(self._name_cap, "the image's entries have")
        whiteout, opaque = EntryKind.WHITEOUT, EntryKind.OPAQUE
        for path, kind, _size, _link in entries:
            if kind is whiteout:
                overlay.delete(path, index)
            elif kind is opaque:
                overlay.hide_lower(path, index)
        shipped, count = self._apply(overlay, entries, index)
        self._shipped.append(shipped)
        self._counts.append(count)

    @staticmethod
    def _apply(
        overlay: _Overlay, entries: Iterable[tuple[str, EntryKind, int, str | None]], index: int
    ) -> tuple[int, int]:
        file_kind = EntryKind.FILE
        dirs = overlay.dirs  # cleared in place, never replaced: this alias stays valid
        sizes, origins, links = overlay.sizes, overlay.origins, overlay.links
        first_inode = len(sizes)
        for path, kind, size, link in entries:
            if kind is file_kind:
                # The hot path (most entries): add_leaf, and a new inode, inlined.
                parent_path, _, name = path.rpartition("/")
                directory = dirs.get(parent_path)
                if directory is None:
                    directory = overlay.parent_dir(parent_path, index)
                leaf = (path, file_kind, index, len(sizes))
                existing = directory.setdefault(name, leaf)  # one lookup when the name is new
                if existing is not leaf:
                    removal = Removal.REPLACED if isinstance(existing, dict) else Removal.OVERWRITTEN
                    overlay._discard(path, existing, index, removal)
                    directory[name] = leaf
                sizes.append(size)
                origins.append(path)
                links.append(1)
            elif kind is EntryKind.DIR:
                overlay.add_dir(path, index)
            elif kind is EntryKind.HARDLINK:
                assert link is not None
                target = overlay.inode_at(link)
                if target == _NO_INODE or link == path:
                    overlay.warnings.append(
                        f"layer {index}: hard link {path!r} {overlay.odd_link(path, link)}"
                    )
                overlay.add_leaf(path, kind, target, index)
            elif kind is EntryKind.SYMLINK or kind is EntryKind.OTHER:
                overlay.add_leaf(path, kind, _NO_INODE, index)
        added = len(sizes) - first_inode  # every inode added here is a file this layer ships
        overlay.layers.extend(repeat(index, added))
        return sum(islice(sizes, first_inode, None)), added

    @collector_paused()
    def result(self) -> MergedFilesystem:
        overlay = self._overlay
        contents = self._final_contents()
        leaves = overlay.leaves()
        # The tree is no longer needed: free its directories before the final listing is built
        # (it is the peak of an audit's memory).
        overlay.dirs.clear()
        overlay.root.clear()
        carriers = self._carriers(leaves)
        sizes, layers = overlay.sizes, overlay.layers
        links: dict[str, str] = {}  # a hard link whose bytes another final path carries -> that path
        files: list[FinalFile] = []
        append = files.append
        new = tuple.__new__  # builds the named tuple without its Python-level __new__
        for path, kind, layer, inode in leaves:
            if inode == _NO_INODE:
                append(new(FinalFile, (path, kind, 0, layer)))
                continue
            size = sizes[inode]
            carrier = carriers.get(inode, path)
            if carrier != path:
                if size:
                    links[path] = carrier
                size = 0
            append(new(FinalFile, (path, kind, size, layers[inode])))
        wasted = overlay.wasted()
        wasted_by_layer = [0] * len(self._shipped)
        for item in wasted:
            wasted_by_layer[item.shipped_by] += item.size
        stats = tuple(
            LayerStats(i, self._shipped[i], self._counts[i], wasted_by_layer[i])
            for i in range(len(self._shipped))
        )
        return MergedFilesystem(tuple(files), contents, stats, tuple(wasted), tuple(overlay.warnings), links)

    def _final_contents(self) -> dict[str, bytes]:
        """The kept contents of the files the final filesystem holds in the version kept,
        by path: a few hundred files are looked up instead of every final path checked."""
        overlay = self._overlay
        found: dict[str, bytes] = {}
        for layer, kept in enumerate(self._contents):
            for path, data in kept.items():
                leaf = overlay.leaf_at(path)
                if leaf is not None and leaf[2] == layer:
                    found[path] = data
        return dict(sorted(found.items()))

    def _carriers(self, leaves: list[_Leaf]) -> dict[int, str]:
        """For each inode a hard link reached, the final path that carries its bytes: the
        path the layer shipped them at, else the first link by name. Any other inode is
        carried by its one path."""
        linked, origins = self._overlay.linked, self._overlay.origins
        carriers: dict[int, str] = {}
        if linked:
            for path, _kind, _layer, inode in leaves:
                if inode in linked and (inode not in carriers or path == origins[inode]):
                    carriers[inode] = path
        return carriers


def merge_layers(analyses: Sequence[LayerAnalysis]) -> MergedFilesystem:
    """Apply the layers bottom-up and account for each byte they ship."""
    merger = Merger()
    for analysis in analyses:
        merger.add(analysis)
    return merger.result()

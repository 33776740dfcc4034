"""A layer's names as the engines extract them: through the symlinks the layer itself wrote.

containerd (`pkg/archive` applyNaive) and moby (go-archive UnpackLayer) extract a layer's
entries in order into a directory that holds that layer alone (overlay's upper directory),
and resolve each entry's directory through the symlinks already there, within that root
(continuity's `fs.RootPath`): an absolute target from the root, a relative one from the
link's directory, joined and cleaned as `filepath.Join` cleans (`..` stopping at the root),
at most 255 links; the entry's own name is never followed. So a layer writing `lib ->
/usr/lib` and then `lib/x.so` ships `usr/lib/x.so`. A lower layer's symlinks are not in that
directory: across layers a directory replaces a symlink (merge.py), as overlayfs shows them.

The layer's symlinks are kept as a tree of names (only the links and the directories above
them), so an entry costs one lookup of its directory while no link is on its way; what a
directory resolves to is remembered until the layer's links change.
"""

from __future__ import annotations

from imgaudit.errors import LayerError
from imgaudit.inputs import limit

MAX_HOPS = 255  # continuity's fs.RootPath answers "too many links" past it
# Names examined while resolving through links, per layer (the links' targets, and the
# names walked down the tree of links; not the rest of a deep name): a real layer takes a few
# per directory under a link; 255 links of 2,000-name targets take 500,000 per entry.
MAX_LINK_STEPS = 1_000_000
LINK_STEPS_VARIABLE = "IMGAUDIT_MAX_LINK_STEPS"
_MEMO_SIZE = 1 << 16  # directories remembered at most (then forgotten together)


class _Node:
    __slots__ = ("children", "target")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.target: str | None = None  # a symlink's target; None for a directory above one


class TooManyLinks(Exception):
    """The entry's directory goes through more than MAX_HOPS symlinks."""


class LayerLinks:
    """The symlinks one layer wrote so far, and its names resolved through them."""

    def __init__(self) -> None:
        self._top = _Node()
        self._depth = 0  # of the deepest link, in names
        # Directory as written -> (as resolved, its node in the tree or None). Cleared in
        # place when the links change: a caller may hold it.
        self.memo: dict[str, tuple[str, _Node | None]] = {}
        self.steps, self._cap = 0, limit(LINK_STEPS_VARIABLE, MAX_LINK_STEPS)

    def __bool__(self) -> bool:
        return bool(self._top.children)

    # -- resolving ---------------------------------------------------------------------
    def resolve(self, path: str) -> tuple[str, _Node | None]:
        """`path` with its directory resolved through the links, and the directory's node.
        Raises TooManyLinks past MAX_HOPS, LayerError past the steps a layer may take."""
        directory, _, name = path.rpartition("/")
        resolved, node = self.directory(directory)
        if resolved is directory:
            return path, node
        return (f"{resolved}/{name}" if resolved else name), node

    def directory(self, directory: str) -> tuple[str, _Node | None]:
        """A directory resolved (itself, the same string, when no link is on its way), and its
        node; remembered in `memo` until the links change."""
        found = self.memo.get(directory)
        if found is None:
            if len(self.memo) >= _MEMO_SIZE:
                self.memo.clear()
            found = self.memo[directory] = self._directory(directory)
        return found

    def _directory(self, directory: str) -> tuple[str, _Node | None]:
        if not directory:
            return directory, self._top
        node = self._top
        # No further than the deepest link: past it nothing can be found (nor a node).
        for name in directory.split("/", self._depth):
            child = node.children.get(name)
            if child is None:
                return directory, None
            if child.target is not None:
                return self._follow(directory.split("/"))
            node = child
        return directory, node

    def _follow(self, names: list[str]) -> tuple[str, _Node | None]:
        resolved: list[str] = []
        nodes: list[_Node | None] = [self._top]  # nodes[i]: the node of resolved[:i]
        pending = names[::-1]
        hops = 0
        while pending:
            above = nodes[-1]
            if above is None:
                # Off the tree no name is a link, and none is `..` (a target's are cleaned
                # away when it is taken): the rest is joined as it is, however deep.
                resolved.extend(reversed(pending))
                break
            self._step(1)
            name = pending.pop()
            node = above.children.get(name)
            if node is None or node.target is None:
                resolved.append(name)
                nodes.append(node)
                continue
            hops += 1
            if hops > MAX_HOPS:
                raise TooManyLinks
            target = node.target
            if target.startswith("/"):
                del resolved[:], nodes[1:]
            names_in_target = target.split("/")
            self._step(len(names_in_target))
            parts = _clean(names_in_target)
            for part in parts:  # `filepath.Join(dir, target)`: only leading `..` are left
                if part != "..":
                    break
                if resolved:
                    resolved.pop()
                    nodes.pop()
            pending.extend(reversed([p for p in parts if p != ".."]))
        return "/".join(resolved), nodes[-1]

    def _step(self, count: int) -> None:
        self.steps += count
        if self.steps > self._cap:
            raise LayerError(
                f"layer tar's entries go through its symlinks in more than {self._cap} steps "
                f"(raise it with {LINK_STEPS_VARIABLE})"
            )

    # -- what an entry does to the links -------------------------------------------------
    def link(self, path: str, target: str, directory: _Node | None = None) -> None:
        """A symlink at `path` (resolved; `directory`: its directory's node, when `resolve`
        gave one): whatever was there goes."""
        names = path.split("/")
        node = directory
        if node is None:
            node = self._top
            for name in names[:-1]:  # resolved: none of them is a link
                child = node.children.get(name)
                if child is None:
                    child = node.children[name] = _Node()
                node = child
        leaf = node.children[names[-1]] = _Node()
        leaf.target = target
        self._depth = max(self._depth, len(names))
        self.memo.clear()

    def remove(self, directory: _Node | None, name: str) -> None:
        """Whatever was at `name` in `directory` (a node `resolve` gave) goes, links beneath
        it included: a file, a whiteout or a hard link there."""
        if directory is not None and directory.children.pop(name, None) is not None:
            self.memo.clear()

    def unlink(self, directory: _Node | None, name: str) -> None:
        """A directory at `name`: a link there goes; a directory's links stay (merged)."""
        node = directory.children.get(name) if directory is not None else None
        if node is not None and node.target is not None:
            self.remove(directory, name)


def _clean(parts: list[str]) -> list[str]:
    """Names cleaned as Go's `path.Clean` cleans them: no empty name, no `.`, a `..` after a
    name cancels it (leading `..` stay)."""
    cleaned: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == ".." and cleaned and cleaned[-1] != "..":
            cleaned.pop()
        else:
            cleaned.append(part)
    return cleaned

"""Normalising the paths found in layer tars."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

V = TypeVar("V")


def normalize(name: str) -> str | None:
    """`./usr//lib/` -> `usr/lib`; `` or `.` -> `` (the root).

    Returns None for a path that is absolute or climbs with `..`: such an entry tries to
    escape the image root and is never trusted.
    """
    if name.startswith("/"):
        return None
    if "//" not in name and "/." not in name and not name.startswith("."):
        return name.rstrip("/")  # the common case: no `.`, `..` or empty component
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            return None
        parts.append(part)
    return "/".join(parts)


def normalize_entry(name: str) -> str | None:
    """A layer entry's name as engines extract it (Go's `filepath.Clean`, then a breakout
    check): a leading `/` means the image root (kaniko writes `/`, some tools `/usr/bin/x`),
    `a/../b` is `b`, `/../b` is `/b`; only a relative name that climbs above the root is
    refused (None), as the engine refuses to extract it."""
    rooted = name.startswith("/")
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part != "..":
            parts.append(part)
        elif parts:
            parts.pop()
        elif not rooted:
            return None
    return "/".join(parts)


def parent(path: str) -> str:
    return path.rpartition("/")[0]


def basename(path: str) -> str:
    return path.rpartition("/")[2]


def is_within(path: str, root: str) -> bool:
    """True when `path` is `root` or lies beneath it (both normalised; `` is the image root)."""
    if not root:
        return True
    return path == root or path.startswith(root + "/")


class _RootNode(Generic[V]):
    __slots__ = ("children", "entry")

    def __init__(self) -> None:
        self.children: dict[str, _RootNode[V]] = {}
        self.entry: tuple[str, V] | None = None  # the root that ends here, and its value


class Roots(Generic[V]):
    """Directory trees by their root (a value each): the deepest root that is a path or holds
    it, found by one walk down the roots' own names. A path 2,000 levels deep under roots 3
    levels deep costs 3 steps, and no prefix of it is built (a walk up a path, a new string per
    level, made 4,000 directories under a chain 2,000 deep cost 8 million strings)."""

    __slots__ = ("_depth", "_top")

    def __init__(self, roots: Mapping[str, V]) -> None:
        self._top: _RootNode[V] = _RootNode()
        self._depth = 0  # of the deepest root, in names
        for root, value in roots.items():
            node = self._top
            names = root.split("/") if root else []
            for name in names:
                child = node.children.get(name)
                if child is None:
                    child = node.children[name] = _RootNode()
                node = child
            node.entry = (root, value)
            self._depth = max(self._depth, len(names))

    def deepest(self, path: str) -> tuple[str, V] | None:
        """The deepest root that is `path` or holds it, and its value; None if none does."""
        node = self._top
        found = node.entry
        if path and node.children:
            # Split no further than the deepest root: the rest of a deep path stays one string.
            for name in path.split("/", self._depth):
                child = node.children.get(name)
                if child is None:
                    break
                node = child
                if node.entry is not None:
                    found = node.entry
        return found

    def __bool__(self) -> bool:
        return self._top.entry is not None or bool(self._top.children)

"""Normalising the paths found in layer tars."""

from __future__ import annotations


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

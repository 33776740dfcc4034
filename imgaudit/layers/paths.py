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
    """A layer entry's name as engines extract it: a leading `/` means the image root
    (kaniko writes `/`, some tools `/usr/bin/x`); only a `..` escape is refused (None)."""
    return normalize(name.lstrip("/"))


def parent(path: str) -> str:
    return path.rpartition("/")[0]


def basename(path: str) -> str:
    return path.rpartition("/")[2]


def is_within(path: str, root: str) -> bool:
    """True when `path` is `root` or lies beneath it (both normalised; `` is the image root)."""
    if not root:
        return True
    return path == root or path.startswith(root + "/")

"""Hard links between a tool's cache and the environments it installed.

uv (and PDM with `install.cache`) link a venv's files from the cache by default: one inode,
two names. The merge charges an inode's bytes to the path the layer shipped it at, which is
whichever name sorts first in the layer tar: the venv for `/app/.venv` next to `/root/.cache`,
the cache for `/usr/local` or `/srv`. Deleting the cache frees none of those bytes, so they
belong to the venv: this moves the charge of every inode a cache shares with a path outside the
caches to that path. A cache then counts only the bytes it alone holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace

from imgaudit.classify.context import PASSWD, PathSet, cache_locations, user_homes
from imgaudit.layers.merge import MergedFilesystem
from imgaudit.model import ImageInfo


def charge_links_outside(merged: MergedFilesystem, cache_roots: Iterable[str]) -> MergedFilesystem:
    caches = PathSet(cache_roots)
    if not merged.links or not caches:
        return merged
    names: dict[str, list[str]] = defaultdict(list)  # carrier -> its other names
    for path, carrier in merged.links.items():
        names[carrier].append(path)
    moves: dict[str, str] = {}  # carrier in a cache -> the outside name that takes its bytes
    for carrier, others in names.items():
        if carrier in caches:
            outside = sorted(p for p in others if p not in caches)
            if outside:
                moves[carrier] = outside[0]
    if not moves:
        return merged
    taker = {new: old for old, new in moves.items()}
    sizes = {f.path: f.size for f in merged.files if f.path in moves}
    files = tuple(
        f._replace(size=0)
        if f.path in moves
        else f._replace(size=sizes[taker[f.path]])
        if f.path in taker
        else f
        for f in merged.files
    )
    links = {}
    for path, carrier in merged.links.items():
        new_carrier = moves.get(carrier, carrier)
        if path != new_carrier:
            links[path] = new_carrier
    links.update(moves)
    return replace(merged, files=files, links=links)


def charge_links_outside_caches(merged: MergedFilesystem, info: ImageInfo) -> MergedFilesystem:
    """`charge_links_outside` for every cache the image's ENV and accounts point at."""
    homes = user_homes(info.user, info.env, merged.contents.get(PASSWD))
    return charge_links_outside(merged, cache_locations(homes, info.env).all_roots())

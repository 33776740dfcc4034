"""What the findings ask of every unit, laid out once per audit.

Each finding used to scan every final and wasted file for its own question (the files of a
category, above the base, wasted under a cache directory) and to read sizes, paths and layers
through a method call per unit: on a 250k-file image the advisor spent most of its time in
those repeated scans. The table answers them from columns and groups built in one pass.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import attrgetter
from typing import Any

from imgaudit.classify.categories import Classification
from imgaudit.layers.merge import MergedFilesystem
from imgaudit.model import Category

# A unit is an int: i >= 0 is merged.files[i]; -(j + 1) is merged.wasted[j].
Unit = int


def wasted_unit(index: int) -> Unit:
    return -(index + 1)


@dataclass(frozen=True, slots=True)
class UnitTable:
    # Columns a unit indexes directly: final file i sits at position i and wasted file j at
    # position -(j + 1), counted from the end (the wasted files are stored reversed), so one
    # subscript answers for either kind and whole sums run as `map` over a list.
    sizes: list[int]
    paths: list[str]
    layers: list[int]
    # Final files with bytes by (category, above the base): a question about a few categories
    # or one side of the base reads only those files.
    groups: dict[tuple[Category, bool], list[Unit]]
    # Wasted files shipped above the base, sorted by path: a directory's files are one range.
    wasted_above_paths: list[str]
    wasted_above_units: list[Unit]
    # Final files come first in the columns, sorted by path (MergedFilesystem.files): a
    # directory's final files are one range of units 0 .. final_count - 1.
    final_count: int

    @classmethod
    def of(cls, merged: MergedFilesystem, classification: Classification, base_layer_count: int) -> UnitTable:
        files, wasted = merged.files, merged.wasted

        def column(final: str, of_wasted: str) -> list[Any]:
            values = list(map(attrgetter(final), files))
            values.extend(map(attrgetter(of_wasted), reversed(wasted)))
            return values

        sizes, paths, layers = column("size", "size"), column("path", "path"), column("layer", "shipped_by")
        groups: dict[tuple[Category, bool], list[Unit]] = defaultdict(list)
        # zip makes each (category, above the base) key, and stops at the last final file (the
        # columns go on with the wasted ones); compress skips the files without bytes.
        keys = zip(classification.assignments, map(base_layer_count.__le__, layers), strict=False)
        for i, key in compress(enumerate(keys), sizes):
            groups[key].append(i)
        wasted_above = [wasted_unit(j) for j, w in enumerate(wasted) if w.shipped_by >= base_layer_count]
        wasted_above.sort(key=paths.__getitem__)
        return cls(
            sizes,
            paths,
            layers,
            dict(groups),
            list(map(paths.__getitem__, wasted_above)),
            wasted_above,
            len(files),
        )

    def final(
        self, categories: Iterable[Category] | None, above_base: bool | None, at_paths: Collection[str] | None
    ) -> Iterator[tuple[Category, Sequence[Unit]]]:
        """The groups of final units (with bytes) in these categories (all when None), above the
        base (True), in it (False) or on either side (None), with their category; only the
        units at one of `at_paths` when given."""
        wanted = None if categories is None else frozenset(categories)
        for (category, above), units in self.groups.items():
            if (wanted is None or category in wanted) and (above_base is None or above is above_base):
                if at_paths is None:
                    yield category, units
                else:
                    yield (
                        category,
                        list(compress(units, map(at_paths.__contains__, map(self.paths.__getitem__, units)))),
                    )

    def wasted_above_under(self, roots: Iterable[str]) -> set[Unit]:
        """Wasted units shipped above the base whose path is a root or lies beneath one
        (`PathSet` membership; the image root "" is no root, as there)."""
        units = self.wasted_above_units
        found: set[Unit] = set()
        for span in _spans_under(self.wasted_above_paths, roots, len(units)):
            found.update(units[span.start : span.stop])
        return found

    def final_under(self, roots: Iterable[str]) -> set[Unit]:
        """Final units with bytes whose path is a root or lies beneath one: a range of the
        path-sorted final files per root, found by bisection instead of a scan of them all."""
        sizes = self.sizes
        found: set[Unit] = set()
        for span in _spans_under(self.paths, roots, self.final_count):
            found.update(unit for unit in span if sizes[unit])
        return found

    def bytes_of(self, units: Iterable[Unit]) -> int:
        return sum(map(self.sizes.__getitem__, units))

    def layers_of(self, units: Iterable[Unit]) -> set[int]:
        return set(map(self.layers.__getitem__, units))

    def bytes_by_layer(self, units: Iterable[Unit]) -> dict[int, int]:
        totals: dict[int, int] = defaultdict(int)
        sizes, layers = self.sizes, self.layers
        for unit in units:
            totals[layers[unit]] += sizes[unit]
        return totals

    def largest(self, units: Iterable[Unit], limit: int) -> list[Unit]:
        """`sorted(units, key=(-size, path))[:limit]`, without sorting them all: only the units
        at least as big as the limit-th biggest can be among them."""
        sizes, paths = self.sizes, self.paths
        candidates = list(units)
        if limit <= 0:
            return []
        if len(candidates) > limit:
            smallest_kept = heapq.nlargest(limit, map(sizes.__getitem__, candidates))[-1]
            candidates = list(
                compress(candidates, map(smallest_kept.__le__, map(sizes.__getitem__, candidates)))
            )
        return sorted(candidates, key=lambda u: (-sizes[u], paths[u]))[:limit]


def _spans_under(paths: Sequence[str], roots: Iterable[str], end: int) -> Iterator[range]:
    """The index ranges of path-sorted `paths[:end]` that are a root or lie beneath one (the
    image root "" is no root, as in `PathSet`)."""
    for root in {r for r in roots if r}:
        # The root itself, then everything under "root/": "0" is the character after "/".
        yield range(bisect_left(paths, root, 0, end), bisect_right(paths, root, 0, end))
        yield range(bisect_left(paths, root + "/", 0, end), bisect_left(paths, root + "0", 0, end))

"""Owner and mode changes (`chown`, `chmod`, `chgrp`) read from the instruction that made a
layer, and the layer that first wrote the files such a change rewrote.

A `RUN chown -R app /app` copies every file it touches into its own layer, bytes unchanged: the
copies the image keeps are that layer's, but the instruction that put the files there (the
install, the COPY) is the one a finding about them must name: `--without dev` goes on the
install, not on the chown. `files-rewritten-later` is the finding about the rewrite itself.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence

from imgaudit.advise.facts import run_commands
from imgaudit.advise.unit_table import Unit, UnitTable
from imgaudit.layers.merge import MergedFilesystem, Removal
from imgaudit.layers.paths import basename

# Commands that change owner, group or mode: run over a tree, they copy every file of it.
OWNERSHIP = frozenset({"chown", "chmod", "chgrp"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def ownership_commands(text: str, paths: Sequence[str]) -> list[list[str]]:
    """The chown/chmod/chgrp commands of a RUN (as words, after any `NAME=value` prefix) that
    name one of `paths` (absolute) or a directory above it (a relative operand may: the image
    does not say where the RUN ran)."""
    return [words for words in _ownership_words(text) if any(_names(o, paths) for o in _operands(words))]


def _ownership_words(text: str) -> list[list[str]]:
    """Every chown/chmod/chgrp command of a RUN, as words after any `NAME=value` prefix."""
    found = []
    for words in run_commands(text):
        # The command starts after its `NAME=value` prefixes; a mode may hold `=` (`g=u`).
        start = next((i for i, w in enumerate(words) if not _ASSIGNMENT.match(w)), len(words))
        rest = words[start:]
        if rest and basename(rest[0]) in OWNERSHIP:
            found.append(rest)
    return found


def _operands(words: Sequence[str]) -> list[str]:
    """The files an ownership command acts on: its operands after the owner or mode."""
    return [w for w in words[1:] if not w.startswith("-")][1:]


def _names(operand: str, paths: Sequence[str]) -> bool:
    if not operand.startswith("/"):
        return True
    directory = "/" + operand.strip("/").rstrip("*").rstrip("/")
    return directory == "/" or any(p == directory or p.startswith(directory + "/") for p in paths)


class FirstWriters:
    """Which layer first wrote the bytes of a unit: its own, unless that layer only gave the
    file another owner or mode. Such a layer wrote the file again at the same path with the
    same size (the earlier copy is wasted, OVERWRITTEN by it), and its instruction (`step_text`)
    changes owner or mode of that path or a directory above it. A rewrite whose instruction is
    unknown (no history, no `--dockerfile`), or does not name the path (a reinstall, a second
    COPY), wrote the files itself: the layer stays theirs. Earlier copies are looked for above
    the base (the base's files are not the Dockerfile's to write elsewhere).

    Asked only about the units of findings, and only units of the layers that changed owner or
    mode: the image's other files cost one set lookup each."""

    def __init__(self, merged: MergedFilesystem, table: UnitTable, step_text: Callable[[int], str]) -> None:
        self._wasted, self._table, self._step_text = merged.wasted, table, step_text
        self._covers: dict[int, tuple[bool, frozenset[str], tuple[str, ...]]] = {}
        rewriting = {w.removed_by for w in merged.wasted if w.removal is Removal.OVERWRITTEN}
        self._rewriting = frozenset(layer for layer in rewriting if self._cover(layer) != _NOTHING)

    def layers(self, units: Iterable[Unit]) -> set[int]:
        table, rewriting = self._table, self._rewriting
        if not rewriting:
            return table.layers_of(units)
        layers = table.layers
        return {self._origin(u, layer) if (layer := layers[u]) in rewriting else layer for u in units}

    def _origin(self, unit: Unit, layer: int) -> int:
        table = self._table
        path, size = table.paths[unit], table.sizes[unit]
        paths = table.wasted_above_paths
        found = table.wasted_above_units[bisect_left(paths, path) : bisect_right(paths, path)]
        copies = [self._wasted[-u - 1] for u in found]
        while self._reowns(layer, path):
            before = next(
                (w for w in copies if w.removed_by == layer and w.removal is Removal.OVERWRITTEN), None
            )
            if before is None or before.size != size:
                break
            layer = before.shipped_by
        return layer

    def _reowns(self, layer: int, path: str) -> bool:
        everything, directories, under = self._cover(layer)
        return everything or path in directories or path.startswith(under)

    def _cover(self, layer: int) -> tuple[bool, frozenset[str], tuple[str, ...]]:
        """What the layer's ownership commands cover: every path (a relative operand, `/`), or
        the paths at or under some directories (relative, as the pipeline's paths are)."""
        cover = self._covers.get(layer)
        if cover is None:
            operands = [o for words in _ownership_words(self._step_text(layer)) for o in _operands(words)]
            directories = {o.strip("/").rstrip("*").rstrip("/") for o in operands if o.startswith("/")}
            everything = any(not o.startswith("/") for o in operands) or "" in directories
            cover = self._covers[layer] = (
                everything,
                frozenset(directories),
                tuple(d + "/" for d in directories),
            )
        return cover


_NOTHING: tuple[bool, frozenset[str], tuple[str, ...]] = (False, frozenset(), ())

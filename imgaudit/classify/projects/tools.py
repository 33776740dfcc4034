"""The formats' standalone binaries: uv from its installer (`~/.local/bin/uv`) or copied from
its image (`COPY --from=ghcr.io/astral-sh/uv /uv /uvx /bin/`) has no dist-info to own it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from imgaudit.classify.context import PathSet
from imgaudit.classify.projects.registry import toolchain_binaries
from imgaudit.layers.merge import FinalFile
from imgaudit.layers.paths import basename, parent

_BIN_DIRS = frozenset({"bin", "sbin"})


def standalone_binary_paths(
    files: Sequence[FinalFile], venv_roots: Iterable[str], base_layer_count: int
) -> frozenset[str]:
    """Final files above the base named like a format's binary in a `bin/` outside any venv
    (a venv's own `bin/uv` is what `uv pip install uv` put there: the app's choice)."""
    names = toolchain_binaries()
    venvs = PathSet(venv_roots)
    # One C-level suffix test per file; the few that end in a binary's name are looked at.
    endings = tuple(f"/{name}" for name in names)
    return frozenset(
        f.path
        for f in files
        if f.layer >= base_layer_count
        and f.path.endswith(endings)
        and basename(parent(f.path)) in _BIN_DIRS
        and f.path not in venvs
    )

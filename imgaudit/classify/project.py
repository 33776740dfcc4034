"""The project built into the image: the files its format reads (pyproject.toml, a lock,
Pipfile, requirement files), found in the image (under WORKDIR first) or given with
`--project DIR`; either way the files arrive here as bytes, so reading them stays pure.

Which files count comes from the format registry (classify.projects).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from imgaudit.classify.distributions import site_dir_of
from imgaudit.classify.projects.interface import (
    MAIN_GROUP,
    PYPROJECT,
    Declared,
    ProjectFiles,
    is_requirements_file,
)
from imgaudit.classify.projects.pep621 import DEV_EXTRA, declared_roots
from imgaudit.classify.projects.poetry import POETRY_LOCK
from imgaudit.classify.projects.registry import is_lock_file, is_project_file
from imgaudit.layers.paths import basename, is_within, parent

__all__ = [
    "DEV_EXTRA",
    "MAIN_GROUP",
    "POETRY_LOCK",
    "PYPROJECT",
    "Declared",
    "ProjectFiles",
    "declared_roots",
    "find_project",
    "is_requirements_file",
]


def _project_dirs(contents: Mapping[str, bytes], skip: Iterable[str]) -> dict[str, dict[str, bytes]]:
    """Directories holding a project file, outside environments and caches."""
    skipped = tuple(skip)
    found: dict[str, dict[str, bytes]] = {}
    for path, data in contents.items():
        name = basename(path)
        if not is_project_file(name):
            continue
        if site_dir_of(path) is not None or any(is_within(path, s) for s in skipped):
            continue
        found.setdefault(parent(path), {})[name] = data
    return found


def find_project(contents: Mapping[str, bytes], workdir: str, skip: Iterable[str]) -> ProjectFiles | None:
    """The project directory the image was built from: WORKDIR when it holds one, else the
    directory with a lock file nearest the root, else one with a pyproject, else one with
    requirement files."""
    dirs = _project_dirs(contents, skip)
    if not dirs:
        return None

    def rank(item: tuple[str, dict[str, bytes]]) -> tuple[int, int, int, str]:
        directory, files = item
        return (
            0 if directory == workdir else 1,
            0 if any(is_lock_file(n) for n in files) else 1 if PYPROJECT in files else 2,
            directory.count("/"),
            directory,
        )

    directory, files = min(dirs.items(), key=rank)
    return ProjectFiles("/" + directory, files)

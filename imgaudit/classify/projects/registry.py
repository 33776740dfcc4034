"""Every project format, in the order they are asked: a lock file's graph beats a pyproject's
declared groups, which beat requirement file names. A new format is one line here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from imgaudit.classify.lockfiles import load_toml
from imgaudit.classify.projects.interface import (
    PYPROJECT,
    CacheSpec,
    ProjectFile,
    ProjectFiles,
    ProjectFormat,
)
from imgaudit.classify.projects.pdm import PDM
from imgaudit.classify.projects.pep621 import PEP621, table
from imgaudit.classify.projects.pipenv import PIPENV
from imgaudit.classify.projects.poetry import POETRY
from imgaudit.classify.projects.requirements import REQUIREMENTS
from imgaudit.classify.projects.uv import UV
from imgaudit.errors import ClassifyError
from imgaudit.model import Category

FORMATS: tuple[ProjectFormat, ...] = (POETRY, UV, PDM, PIPENV, PEP621, REQUIREMENTS)
BY_NAME: Mapping[str, ProjectFormat] = {f.name: f for f in FORMATS}


def project_files() -> tuple[ProjectFile, ...]:
    return tuple(file for fmt in FORMATS for file in fmt.files)


# One regex over every format's file names: the layer walk asks it for each file of an image.
_PROJECT_FILE_NAME = re.compile("|".join(f"(?:{file.pattern})" for file in project_files()))


# Cheap pre-filters: names that are all literal (`uv.lock`), and the literal start of the others.
_LITERAL_NAMES = frozenset(
    f.literal_prefix for f in project_files() if re.escape(f.literal_prefix) == f.pattern
)
_PREFIXES = tuple(f.literal_prefix for f in project_files() if re.escape(f.literal_prefix) != f.pattern)


def is_project_file(name: str) -> bool:
    """`name`: a base name (`uv.lock`), as the walk and `--project` see it."""
    if name in _LITERAL_NAMES:
        return True
    return name.startswith(_PREFIXES) and _PROJECT_FILE_NAME.fullmatch(name) is not None


def is_lock_file(name: str) -> bool:
    return any(file.is_lock and file.matches(name) for file in project_files())


def project_file_rules() -> tuple[tuple[re.Pattern[str], int], ...]:
    """For the layer walk: `(.*/)?NAME` patterns and caps, one per file a format reads."""
    return tuple((re.compile(rf"(?:.*/)?{file.pattern}"), file.cap) for file in project_files())


def cache_specs() -> tuple[CacheSpec, ...]:
    return tuple(spec for fmt in FORMATS for spec in fmt.caches)


def cache_categories() -> tuple[Category, ...]:
    return tuple(spec.category for spec in cache_specs())


def toolchain_distributions() -> frozenset[str]:
    return frozenset(name for fmt in FORMATS for name in fmt.toolchain.distributions)


def toolchain_binaries() -> frozenset[str]:
    return frozenset(name for fmt in FORMATS for name in fmt.toolchain.binaries)


def tool_venv_patterns() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for fmt in FORMATS for p in fmt.toolchain.tool_venvs)


_TOOL_TABLES: tuple[tuple[str, ProjectFormat], ...] = (("poetry", POETRY), ("uv", UV), ("pdm", PDM))


def advising_format(name: str | None, project: ProjectFiles | None) -> ProjectFormat:
    """The format whose commands a fix should use: the one that decided, except that a bare
    pyproject.toml names its tool by its `[tool.X]` table. Poetry when nothing says."""
    fmt = BY_NAME.get(name or "")
    if fmt is not None and fmt is not PEP621:
        return fmt
    data = project.files.get(PYPROJECT) if project is not None else None
    if data is not None:
        try:
            tools = table(load_toml(data, PYPROJECT), "tool")
        except ClassifyError:
            tools = {}
        for key, candidate in _TOOL_TABLES:
            if key in tools:
                return candidate
    return fmt or POETRY


def installs_dependencies(words: Sequence[str]) -> bool:
    """A simple command (shell words) that installs a project's dependencies with a format's tool."""
    names = [w.rsplit("/", 1)[-1] for w in words]
    return any(tuple(names[: len(command)]) == command for fmt in FORMATS for command in fmt.install_commands)


def detected_format(
    project: ProjectFiles | None, fallback: Iterable[ProjectFormat] = FORMATS
) -> ProjectFormat | None:
    """The first format whose files the project holds."""
    if project is None:
        return None
    return next((fmt for fmt in fallback if fmt.detects(project)), None)

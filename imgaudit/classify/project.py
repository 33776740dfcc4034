"""The project built into the image: its pyproject.toml, poetry.lock and requirement files.

Found in the image (under WORKDIR first) or given with `--project DIR`; either way the files
arrive here as bytes, so reading them stays pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from imgaudit.classify.deps import Root
from imgaudit.classify.distributions import site_dir_of
from imgaudit.classify.lockfiles import load_toml
from imgaudit.classify.names import canonical, requirement_extras, requirement_name
from imgaudit.errors import ClassifyError
from imgaudit.layers.paths import basename, is_within, parent

PYPROJECT = "pyproject.toml"
MAX_INCLUDED_GROUPS = 64  # PEP 735 include-group chains; a longer one is hostile, not a project
POETRY_LOCK = "poetry.lock"
MAIN_GROUP = "main"
_REQUIREMENTS = re.compile(r"requirements[^/]*\.(?:txt|in)")
# PEP 621 extras that hold development tools, not features: `dev`, `test`, `lint-extra`, ...
DEV_EXTRA = re.compile(
    r"^(?:dev|develop|development|test|tests|testing|lint|linting|linters|docs?|typing|types|mypy"
    r"|style|format|check|checks|qa|ci|cov|coverage|bench|benchmarks?)(?:-.*)?$"
)


@dataclass(frozen=True, slots=True)
class ProjectFiles:
    """A project directory's files that tell main from dev dependencies, by name."""

    location: str  # shown in the report: `/app` in the image, or the host directory
    files: Mapping[str, bytes] = field(default_factory=dict)  # pyproject.toml, poetry.lock, requirements*

    @property
    def requirement_files(self) -> dict[str, bytes]:
        return {name: data for name, data in self.files.items() if is_requirements_file(name)}


@dataclass(frozen=True, slots=True)
class Declared:
    main: tuple[Root, ...]
    dev: tuple[Root, ...]


def is_requirements_file(name: str) -> bool:
    return bool(_REQUIREMENTS.fullmatch(basename(name)))


def _poetry_table(table: Any, group: str) -> list[Root]:
    if not isinstance(table, dict):
        return []
    roots = []
    for name, spec in table.items():
        if canonical(name) == "python":
            continue
        specs = spec if isinstance(spec, list) else [spec]
        extras = frozenset(
            canonical(e)
            for s in specs
            if isinstance(s, dict)
            for e in s.get("extras") or []
            if isinstance(e, str)
        )
        roots.append(Root(canonical(name), extras, group))
    return roots


def _pep508(items: Any, group: str) -> list[Root]:
    if not isinstance(items, list):
        return []
    return [
        Root(name, requirement_extras(text), group)
        for text in items
        if isinstance(text, str) and (name := requirement_name(text))
    ]


def _dependency_groups(groups: Any, where: str) -> list[Root]:
    """PEP 735 `[dependency-groups]`, with `{include-group = ...}` followed."""
    if not isinstance(groups, dict):
        return []
    roots: list[Root] = []

    def expand(group: str, label: str, seen: frozenset[str]) -> None:
        items = groups.get(group)
        if len(seen) > MAX_INCLUDED_GROUPS:
            raise ClassifyError(
                f"include-group nests more than {MAX_INCLUDED_GROUPS} groups deep", where=where
            )
        for item in items if isinstance(items, list) else []:
            if isinstance(item, str):
                roots.extend(_pep508([item], label))
            elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
                included = item["include-group"]
                if included not in seen:
                    expand(included, label, seen | {included})

    for group in groups:
        expand(group, group, frozenset({group}))
    return roots


def declared_roots(pyproject: bytes, where: str) -> Declared:
    """Main and dev roots of a pyproject: Poetry's tables, PEP 621 and PEP 735."""
    document = load_toml(pyproject, where)
    tool = document.get("tool")
    poetry = tool.get("poetry") if isinstance(tool, dict) else None
    poetry = poetry if isinstance(poetry, dict) else {}
    project = document.get("project")
    project = project if isinstance(project, dict) else {}
    main = _poetry_table(poetry.get("dependencies"), MAIN_GROUP) + _pep508(
        project.get("dependencies"), MAIN_GROUP
    )
    dev = _poetry_table(poetry.get("dev-dependencies"), "dev")
    groups = poetry.get("group")
    for group, table in (groups if isinstance(groups, dict) else {}).items():
        deps = table.get("dependencies") if isinstance(table, dict) else None
        (main if group == MAIN_GROUP else dev).extend(_poetry_table(deps, group))
    extras = project.get("optional-dependencies")
    for extra, items in (extras if isinstance(extras, dict) else {}).items():
        is_dev = bool(DEV_EXTRA.match(canonical(extra)))
        (dev if is_dev else main).extend(_pep508(items, f"extra:{extra}"))
    dev.extend(_dependency_groups(document.get("dependency-groups"), where))
    return Declared(tuple(main), tuple(dev))


def _project_dirs(contents: Mapping[str, bytes], skip: Iterable[str]) -> dict[str, dict[str, bytes]]:
    """Directories holding a pyproject, lock or requirement files, outside environments and caches."""
    skipped = tuple(skip)
    found: dict[str, dict[str, bytes]] = {}
    for path, data in contents.items():
        name = basename(path)
        if name not in (PYPROJECT, POETRY_LOCK) and not is_requirements_file(name):
            continue
        if site_dir_of(path) is not None or any(is_within(path, s) for s in skipped):
            continue
        found.setdefault(parent(path), {})[name] = data
    return found


def find_project(contents: Mapping[str, bytes], workdir: str, skip: Iterable[str]) -> ProjectFiles | None:
    """The project directory the image was built from: WORKDIR when it holds one, else the
    directory with a lock file nearest the root, else one with requirement files."""
    dirs = _project_dirs(contents, skip)
    if not dirs:
        return None

    def rank(item: tuple[str, dict[str, bytes]]) -> tuple[int, int, int, str]:
        directory, files = item
        return (
            0 if directory == workdir else 1,
            0 if POETRY_LOCK in files else 1 if PYPROJECT in files else 2,
            directory.count("/"),
            directory,
        )

    directory, files = min(dirs.items(), key=rank)
    return ProjectFiles("/" + directory, files)

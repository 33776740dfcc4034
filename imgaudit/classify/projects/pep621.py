"""pyproject.toml alone: PEP 621 `[project]`, its optional dependencies, PEP 735 groups (and
Poetry's own tables, which Poetry projects declare instead). Closed over installed metadata."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from imgaudit.classify.deps import Dependency, Root
from imgaudit.classify.lockfiles import load_toml
from imgaudit.classify.names import canonical, requirement_extras, requirement_name
from imgaudit.classify.projects.interface import (
    MAIN_GROUP,
    PYPROJECT,
    CacheSpec,
    Declared,
    DependencyGraph,
    ImageInstall,
    InstallAdvice,
    ProjectFile,
    ProjectFiles,
    ToolchainSpec,
    where,
)
from imgaudit.errors import ClassifyError
from imgaudit.model import Confidence, DevSource

# PEP 621 extras that hold development tools, not features: `dev`, `test`, `lint-extra`, ...
DEV_EXTRA = re.compile(
    r"^(?:dev|develop|development|test|tests|testing|lint|linting|linters|docs?|typing|types|mypy"
    r"|style|format|check|checks|qa|ci|cov|coverage|bench|benchmarks?)(?:-.*)?$"
)


def table(document: Any, *keys: str) -> dict[str, Any]:
    """`document[k1][k2]...` when each is a table, else {}."""
    for key in keys:
        document = document.get(key) if isinstance(document, dict) else None
    return document if isinstance(document, dict) else {}


def poetry_table(deps: Any, group: str) -> list[Root]:
    if not isinstance(deps, dict):
        return []
    roots = []
    for name, spec in deps.items():
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


def pep508(items: Any, group: str) -> list[Root]:
    if not isinstance(items, list):
        return []
    return [
        Root(name, requirement_extras(text), group)
        for text in items
        if isinstance(text, str) and (name := requirement_name(text))
    ]


MAX_INCLUDED_GROUPS = 64  # PEP 735 include-group chains; a longer one is hostile, not a project


def dependency_groups(groups: Any, where: str = PYPROJECT) -> list[Root]:
    """PEP 735 `[dependency-groups]` (and PDM's older `[tool.pdm.dev-dependencies]`, the same
    shape), with `{include-group = ...}` followed."""
    if not isinstance(groups, dict):
        return []
    roots: list[Root] = []

    def expand(group: str, label: str, seen: frozenset[str]) -> None:
        if len(seen) > MAX_INCLUDED_GROUPS:
            raise ClassifyError(
                f"include-group nests more than {MAX_INCLUDED_GROUPS} groups deep", where=where
            )
        items = groups.get(group)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, str):
                roots.extend(pep508([item], label))
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
    poetry = table(document, "tool", "poetry")
    project = table(document, "project")
    main = poetry_table(poetry.get("dependencies"), MAIN_GROUP) + pep508(
        project.get("dependencies"), MAIN_GROUP
    )
    dev = poetry_table(poetry.get("dev-dependencies"), "dev")
    for group, group_table in table(poetry, "group").items():
        deps = group_table.get("dependencies") if isinstance(group_table, dict) else None
        (main if group == MAIN_GROUP else dev).extend(poetry_table(deps, group))
    for extra, items in table(project, "optional-dependencies").items():
        is_dev = bool(DEV_EXTRA.match(canonical(extra)))
        (dev if is_dev else main).extend(pep508(items, f"extra:{extra}"))
    dev.extend(dependency_groups(document.get("dependency-groups"), where))
    dev.extend(dependency_groups(table(document, "tool", "pdm").get("dev-dependencies"), where))
    return Declared(tuple(main), tuple(dev))


def declared_graph(
    project: ProjectFiles, source: DevSource, edges: Mapping[str, tuple[Dependency, ...]]
) -> DependencyGraph | None:
    """A lock's `edges` from the roots the project's pyproject declares (high confidence);
    None when there is no pyproject or it declares no roots, so the lock decides alone."""
    pyproject = project.files.get(PYPROJECT)
    declared = declared_roots(pyproject, where(project, PYPROJECT)) if pyproject is not None else None
    if declared is None or not (declared.main or declared.dev):
        return None
    return DependencyGraph(source, Confidence.HIGH, declared.main, declared.dev, edges)


class Pep621Format:
    """The format\'s declarations (class attributes) and its reader."""

    name: str = "pep621"
    label: str = "pip"  # how reports name the tool
    files: tuple[ProjectFile, ...] = (ProjectFile(re.escape(PYPROJECT)),)
    caches: tuple[CacheSpec, ...] = ()
    install_commands: tuple[tuple[str, ...], ...] = ()
    image_install: ImageInstall | None = None  # `imgaudit fix` edits the tools' builds only
    toolchain: ToolchainSpec = ToolchainSpec()

    def install_advice(self, project: ProjectFiles | None) -> InstallAdvice:
        return InstallAdvice(
            "Install only the main dependencies: leave the dev group and dev extras out "
            "(`pip install .`, not `pip install .[dev]` or `--group dev`).",
            "RUN pip install --no-cache-dir .",
            "COPY requirements.txt ./\nRUN pip install --no-cache-dir -r requirements.txt\n"
            "COPY {code} ./\nRUN pip install --no-cache-dir --no-deps .",
        )

    def detects(self, project: ProjectFiles) -> bool:
        return PYPROJECT in project.files

    def read(self, project: ProjectFiles) -> DependencyGraph | None:
        data = project.files.get(PYPROJECT)
        if data is None:
            return None
        declared = declared_roots(data, where(project, PYPROJECT))
        if not declared.dev:
            return None
        return DependencyGraph(DevSource.PYPROJECT, Confidence.MEDIUM, declared.main, declared.dev)


PEP621 = Pep621Format()

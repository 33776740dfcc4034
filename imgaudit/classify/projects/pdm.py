"""PDM: pdm.lock (lock_version 4.x) and the pyproject's groups.

Every package lists its `dependencies` (PEP 508 strings); an extra of a package is an entry of
its own with `extras = [...]`. Since lock_version 4.4.1 (`inherit_metadata`) each package also
says which `groups` need it, so the lock alone tells dev from main: `default` is main,
every other group is a dev group or an optional dependency group.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from imgaudit.classify.deps import Dependency
from imgaudit.classify.lockfiles import load_toml
from imgaudit.classify.names import canonical, marker_extra, requirement_extras, requirement_name
from imgaudit.classify.projects.interface import (
    CacheSpec,
    DependencyGraph,
    ImageInstall,
    InstallAdvice,
    ProjectFile,
    ProjectFiles,
    ToolchainSpec,
    where,
)
from imgaudit.classify.projects.pep621 import declared_graph, table
from imgaudit.errors import ClassifyError
from imgaudit.model import Category, Confidence, DevSource

PDM_LOCK = "pdm.lock"
DEFAULT_GROUP = "default"


@dataclass(frozen=True, slots=True)
class PdmLock:
    lock_version: str
    dependencies: Mapping[str, tuple[Dependency, ...]]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> groups needing it


def _requirements(items: Any, when_extra: str | None) -> list[Dependency]:
    texts = [t for t in items if isinstance(t, str)] if isinstance(items, list) else []
    return [
        Dependency(name, requirement_extras(text), when_extra or marker_extra(text))
        for text in texts
        if (name := requirement_name(text))
    ]


def parse_pdm_lock(data: bytes, where: str = PDM_LOCK) -> PdmLock:
    document = load_toml(data, where)
    version = table(document, "metadata").get("lock_version")
    if not isinstance(version, str):
        raise ClassifyError("no [metadata] lock_version: not a pdm.lock", where=where)
    packages = document.get("package", [])
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        raise ClassifyError("[[package]] is not a list of tables", where=where)
    dependencies: dict[str, list[Dependency]] = {}
    groups: dict[str, list[str]] = {}
    for raw in packages:
        name = raw.get("name")
        if not isinstance(name, str):
            raise ClassifyError("a [[package]] entry lacks a name", where=where)
        key = canonical(name)
        extras = [canonical(e) for e in raw.get("extras") or [] if isinstance(e, str)]
        deps = dependencies.setdefault(key, [])
        if extras:  # `foo[bar]` entry: what the extra adds, on top of foo itself
            for extra in extras:
                deps.extend(d for d in _requirements(raw.get("dependencies"), extra) if d.name != key)
        else:
            deps.extend(_requirements(raw.get("dependencies"), None))
        listed = raw.get("groups")
        if isinstance(listed, list):
            groups.setdefault(key, []).extend(g for g in listed if isinstance(g, str))
    # A requirement whose marker never holds for the lock's targets (`tomli; python_version <
    # "3.11"`) names no locked package: no edge.
    return PdmLock(
        version,
        {name: tuple(d for d in deps if d.name in dependencies) for name, deps in dependencies.items()},
        {name: tuple(dict.fromkeys(g)) for name, g in groups.items()},
    )


class PdmFormat:
    """The format\'s declarations (class attributes) and its reader."""

    name: str = "pdm"
    label: str = "PDM"  # how reports name the tool
    files: tuple[ProjectFile, ...] = (ProjectFile(re.escape(PDM_LOCK), is_lock=True),)
    caches: tuple[CacheSpec, ...] = (CacheSpec(Category.PDM_CACHE, ("pdm",), ("PDM_CACHE_DIR",)),)
    install_commands: tuple[tuple[str, ...], ...] = (("pdm", "install"), ("pdm", "sync"))
    toolchain: ToolchainSpec = ToolchainSpec(
        distributions=frozenset({"pdm"}),
        tool_venvs=(r"(?:^|/)pdm/venv$",),  # PDM's installer script: ~/.local/share/pdm/venv
    )
    # PDM's Docker recipe: production groups only, checked against the lock, into the
    # project's .venv; its cache deleted in the RUN that fills it (or a cache mount).
    image_install: ImageInstall | None = ImageInstall(
        tool="pdm",
        verbs=("install", "sync"),
        production=("--prod",),
        dev_flags=("--dev", "-d"),
        locked=("--check", "--frozen-lockfile", "--no-lock"),
        lock_file=PDM_LOCK,
        locked_verbs=("install",),
        venv_env=(("PDM_VENV_IN_PROJECT", "1"),),
        guide_env=(("PDM_CHECK_UPDATE", "false"),),
        dependency_files=("pyproject.toml", PDM_LOCK, "pdm.toml", ".pdm-python"),
        dependencies_only="--no-self",
        run_options=("-p", "--project", "--venv"),
    )

    def install_advice(self, project: ProjectFiles | None) -> InstallAdvice:
        return InstallAdvice(
            "Install only the production dependencies: `pdm install --prod` (`pdm sync --prod`), "
            "frozen to the lock.",
            "RUN pdm install --check --prod --no-editable",
            "COPY pyproject.toml pdm.lock ./\nRUN pdm install --check --prod --no-self --no-editable\n"
            "COPY {code} ./\nRUN pdm install --check --prod --no-editable",
        )

    def detects(self, project: ProjectFiles) -> bool:
        return PDM_LOCK in project.files

    def read(self, project: ProjectFiles) -> DependencyGraph | None:
        if PDM_LOCK not in project.files:
            return None
        lock = parse_pdm_lock(project.files[PDM_LOCK], where(project, PDM_LOCK))
        graph = declared_graph(project, DevSource.PDM_LOCK, lock.dependencies)
        if graph is not None:
            return graph
        if not lock.groups:
            return None  # a lock before inherit_metadata, without its pyproject
        labelled = {
            name: f"groups {', '.join(groups)} in pdm.lock"
            for name, groups in lock.groups.items()
            if DEFAULT_GROUP not in groups
        }
        main = frozenset(name for name, groups in lock.groups.items() if DEFAULT_GROUP in groups)
        return DependencyGraph(DevSource.PDM_LOCK, Confidence.HIGH, labelled=labelled, labelled_main=main)


PDM = PdmFormat()

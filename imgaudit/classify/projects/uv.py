"""uv: uv.lock (lock `version = 1`, every revision) and `[tool.uv]` in pyproject.toml.

The lock holds the whole graph: every package's `dependencies`, its `optional-dependencies`
per extra, and, on the project's own entries (source `editable`/`virtual`, one per workspace
member), `dev-dependencies` per group: PEP 735 groups and the legacy `tool.uv.dev-dependencies`
(group `dev`). `uv sync` installs the project's main dependencies plus its default groups
(`dev`, or `tool.uv.default-groups`); every group is development, whichever is default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imgaudit.classify.deps import Dependency, Root
from imgaudit.classify.lockfiles import load_toml
from imgaudit.classify.names import canonical
from imgaudit.classify.projects.interface import (
    MAIN_GROUP,
    PYPROJECT,
    CacheSpec,
    DependencyGraph,
    ImageInstall,
    InstallAdvice,
    ProjectFile,
    ProjectFiles,
    ToolchainSpec,
    where,
)
from imgaudit.classify.projects.pep621 import DEV_EXTRA, table
from imgaudit.errors import ClassifyError
from imgaudit.model import Category, Confidence, DevSource

UV_LOCK = "uv.lock"
_PROJECT_SOURCES = ("editable", "virtual")  # the project and its workspace members


@dataclass(frozen=True, slots=True)
class UvPackage:
    name: str  # canonical
    version: str | None  # None for a virtual project
    is_project: bool
    dependencies: tuple[Dependency, ...]  # extras' dependencies carry `when_extra`
    groups: Mapping[str, tuple[Dependency, ...]]  # dev-dependencies, on project entries


@dataclass(frozen=True, slots=True)
class UvLock:
    version: int
    revision: int
    packages: Mapping[str, UvPackage]

    @property
    def dependencies(self) -> dict[str, tuple[Dependency, ...]]:
        return {name: package.dependencies for name, package in self.packages.items()}


def _dependencies(items: Any, when_extra: str | None = None) -> list[Dependency]:
    """`[{ name = "x", extra = ["y"], marker = "..." }, ...]`"""
    found = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            extras = item.get("extra")
            found.append(
                Dependency(
                    canonical(item["name"]),
                    frozenset(canonical(e) for e in extras if isinstance(e, str))
                    if isinstance(extras, list)
                    else frozenset(),
                    when_extra,
                )
            )
    return found


def _package(raw: dict[str, Any], where: str) -> UvPackage:
    name = raw.get("name")
    if not isinstance(name, str):
        raise ClassifyError("a [[package]] entry lacks a name", where=where)
    source = raw.get("source")
    deps = _dependencies(raw.get("dependencies"))
    for extra, items in table(raw, "optional-dependencies").items():
        deps.extend(_dependencies(items, canonical(extra)))
    groups = {group: tuple(_dependencies(items)) for group, items in table(raw, "dev-dependencies").items()}
    version = raw.get("version")
    return UvPackage(
        canonical(name),
        version if isinstance(version, str) else None,
        isinstance(source, dict) and any(kind in source for kind in _PROJECT_SOURCES),
        tuple(deps),
        groups,
    )


def parse_uv_lock(data: bytes, where: str = UV_LOCK) -> UvLock:
    document = load_toml(data, where)
    version = document.get("version")
    if not isinstance(version, int):
        raise ClassifyError("no top-level `version`: not a uv.lock", where=where)
    packages = document.get("package", [])
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        raise ClassifyError("[[package]] is not a list of tables", where=where)
    revision = document.get("revision", 0)
    parsed = [_package(p, where) for p in packages]
    return UvLock(version, revision if isinstance(revision, int) else 0, {p.name: p for p in parsed})


def _roots(lock: UvLock) -> tuple[list[Root], list[Root]]:
    """Main: the project entries and what they depend on, plus non-dev extras; dev: every
    group, plus extras named like `test` or `dev`."""
    main: list[Root] = []
    dev: list[Root] = []
    for package in lock.packages.values():
        if not package.is_project:
            continue
        main.append(Root(package.name, frozenset(), MAIN_GROUP))
        for dep in package.dependencies:
            if dep.when_extra is None:
                continue
            label = f"extra:{dep.when_extra}"
            target = dev if DEV_EXTRA.match(dep.when_extra) else main
            target.append(Root(dep.name, dep.extras, label))
        for group, deps in package.groups.items():
            dev.extend(Root(d.name, d.extras, group) for d in deps)
    return main, dev


def _default_groups(project: ProjectFiles) -> list[str] | None:
    data = project.files.get(PYPROJECT)
    if data is None:
        return None
    try:
        groups = table(load_toml(data, where(project, PYPROJECT)), "tool", "uv").get("default-groups")
    except ClassifyError:
        return None
    if groups == "all":
        return ["all"]
    return [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else None


class UvFormat:
    """The format\'s declarations (class attributes) and its reader."""

    name: str = "uv"
    label: str = "uv"  # how reports name the tool
    files: tuple[ProjectFile, ...] = (ProjectFile(re.escape(UV_LOCK), is_lock=True),)
    caches: tuple[CacheSpec, ...] = (CacheSpec(Category.UV_CACHE, ("uv",), ("UV_CACHE_DIR",)),)
    install_commands: tuple[tuple[str, ...], ...] = (
        ("uv", "sync"),
        ("uv", "pip", "install"),
        ("uv", "pip", "sync"),
    )
    toolchain: ToolchainSpec = ToolchainSpec(
        distributions=frozenset({"uv"}),
        binaries=("uv", "uvx"),  # the installer's ~/.local/bin/uv, or COPY --from uv's image
        tool_venvs=(r"(?:^|/)uv/tools/[^/]+$",),  # `uv tool install`
    )
    # uv's Docker guide: locked, no dev, files copied out of the cache (a cache mount, or none:
    # UV_NO_CACHE), the venv at the project's .venv. Not its UV_COMPILE_BYTECODE: .pyc files
    # trade size for start-up time (2.57 MB for 2.46 MB of packages, measured), an image the
    # plan's estimate would not match; an original that compiles keeps its own setting.
    image_install: ImageInstall | None = ImageInstall(
        tool="uv",
        verbs=("sync",),
        production=("--no-dev",),
        dev_flags=("--dev", "--all-groups", "--only-dev"),
        locked=("--locked", "--frozen"),
        lock_file=UV_LOCK,
        venv_env=(("UV_PROJECT_ENVIRONMENT", "{venv}"),),
        guide_env=(("UV_LINK_MODE", "copy"),),
        no_cache_env=(("UV_NO_CACHE", "1"),),
        dependency_files=(PYPROJECT, UV_LOCK, ".python-version"),
        dependencies_only="--no-install-project",
        run_options=(
            "--with",
            "--group",
            "--extra",
            "--package",
            "--python",
            "-p",
            "--env-file",
            "--with-requirements",
            "--directory",
            "--project",
            "--index",
        ),
    )

    def install_advice(self, project: ProjectFiles | None) -> InstallAdvice:
        defaults = _default_groups(project) if project is not None else None
        # `--no-dev` drops only `dev`; other default groups need `--no-default-groups`.
        flag = "--no-default-groups" if defaults and set(defaults) - {"dev"} else "--no-dev"
        return InstallAdvice(
            f"Install without the dev groups: `uv sync --locked {flag}` (first with "
            "`--no-install-project` for the dependencies, then again after copying the code).",
            f"RUN uv sync --locked {flag} --no-install-project\nCOPY . .\nRUN uv sync --locked {flag}",
            f"COPY pyproject.toml uv.lock ./\nRUN uv sync --locked {flag} --no-install-project\n"
            f"COPY {{code}} ./\nRUN uv sync --locked {flag}",
        )

    def detects(self, project: ProjectFiles) -> bool:
        return UV_LOCK in project.files

    def read(self, project: ProjectFiles) -> DependencyGraph | None:
        if UV_LOCK not in project.files:
            return None
        lock = parse_uv_lock(project.files[UV_LOCK], where(project, UV_LOCK))
        main, dev = _roots(lock)
        if not main:
            return None  # no project entry: nothing says what is main
        return DependencyGraph(DevSource.UV_LOCK, Confidence.HIGH, tuple(main), tuple(dev), lock.dependencies)


UV = UvFormat()

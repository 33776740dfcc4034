"""Which installed distributions only development needs, and why.

Sources, best first:
1. poetry.lock (+ pyproject.toml): the lock's graph from the declared roots (confidence high);
   without roots, the lock's own `category` (1.x) or `groups` (2.1) fields.
2. pyproject.toml alone, then requirements*.txt: declared roots, closed over the installed
   distributions' `Requires-Dist` (medium).
3. Neither: the well-known dev tools below that are installed (heuristic).
A distribution that any main root (or, with installed metadata, any installed distribution
that is not dev) needs is not dev-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from imgaudit.classify.deps import Dependency, Edges, Node, Root, edges_from, nodes_of
from imgaudit.classify.graph import closure
from imgaudit.classify.lockfiles import PoetryLock, parse_poetry_lock
from imgaudit.classify.project import (
    MAIN_GROUP,
    POETRY_LOCK,
    PYPROJECT,
    Declared,
    ProjectFiles,
    declared_roots,
)
from imgaudit.classify.requirements import requirement_roots
from imgaudit.model import Confidence, DevDependencies, DevSource

# Tools that no service imports at run time. Their own dependencies follow from metadata.
WELL_KNOWN_DEV_TOOLS = frozenset(
    {
        "pytest", "pytest-cov", "pytest-mock", "pytest-asyncio", "pytest-xdist", "hypothesis",
        "coverage", "tox", "nox", "mypy", "pyright", "black", "ruff", "flake8", "pylint",
        "isort", "autopep8", "yapf", "bandit", "pre-commit", "ipython", "ipdb", "jupyter",
        "notebook", "jupyterlab", "sphinx", "mkdocs", "mkdocs-material", "faker",
        "factory-boy", "types-requests", "types-setuptools", "pydocstyle", "pycodestyle",
        "pyflakes", "codespell", "commitizen", "twine", "memray", "py-spy",
    }
)  # fmt: skip
HEURISTIC_GROUP = "well-known dev tool"


@dataclass(frozen=True, slots=True)
class DevVerdict:
    dependencies: DevDependencies
    dev_only: Mapping[str, str]  # canonical name -> why (the dev root that pulls it in)
    # What the main roots reach, when the source declares them: installed next to Poetry
    # (no venv), these stay the app's even where Poetry needs them too.
    main_needed: frozenset[str] = frozenset()


def _root_nodes(roots: Iterable[Root]) -> list[Node]:
    return [node for root in roots for node in nodes_of(root.name, root.extras)]


def _reason(name: str, root: Root) -> str:
    if name == root.name:
        return f"dev dependency ({root.group})"
    return f"required by {root.name} ({root.group})"


def _exclusive(dev: Sequence[Root], others: Sequence[Node], edges: Edges) -> dict[str, str]:
    by_name = {root.name: root for root in reversed(dev)}  # the first declaration names the group
    own = closure(_root_nodes(dev), edges)
    shared = {name for name, _ in closure(others, edges)}
    verdict: dict[str, str] = {}
    for (name, _), (root_name, _) in own.items():
        if name not in shared and name not in verdict:
            verdict[name] = _reason(name, by_name[root_name])
    return verdict


def _reached(nodes: Iterable[Node], edges: Edges) -> frozenset[str]:
    return frozenset(name for name, _ in closure(nodes, edges))


def _labels(dev: Iterable[Root]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f"{root.name} ({root.group})" for root in dev))


def _main_in_lock_fields(lock: PoetryLock) -> frozenset[str]:
    return frozenset(
        name for name, p in lock.packages.items() if p.category == MAIN_GROUP or MAIN_GROUP in p.groups
    )


def _from_lock_fields(lock: PoetryLock) -> dict[str, str]:
    """A lock without its pyproject: 1.x categories and 2.1 groups still say it."""
    verdict = {}
    for name, package in lock.packages.items():
        if package.category == "dev":
            verdict[name] = "category dev in poetry.lock"
        elif package.groups and MAIN_GROUP not in package.groups:
            verdict[name] = f"groups {', '.join(package.groups)} in poetry.lock"
    return verdict


def _verdict(
    source: DevSource,
    confidence: Confidence,
    where: str | None,
    dev: Sequence[Root],
    only: dict[str, str],
    main_needed: frozenset[str] = frozenset(),
) -> DevVerdict:
    return DevVerdict(DevDependencies(source, confidence, where, _labels(dev)), only, main_needed)


def _installed_users(
    installed: Mapping[str, Sequence[Dependency]], edges: Edges, dev: Sequence[Root]
) -> list[Node]:
    """With installed metadata for the graph, every installed distribution outside the dev
    closure counts as a user: the project itself, what main declares, what nobody declared."""
    reached = {name for name, _ in closure(_root_nodes(dev), edges)}
    return [(name, None) for name in installed if name not in reached]


def _from_declared(
    declared: Declared,
    installed: Mapping[str, Sequence[Dependency]],
    source: DevSource,
    confidence: Confidence,
    where: str | None,
) -> DevVerdict:
    edges = edges_from(installed)
    others = _root_nodes(declared.main) + _installed_users(installed, edges, declared.dev)
    only = _exclusive(declared.dev, others, edges)
    return _verdict(
        source, confidence, where, declared.dev, only, _reached(_root_nodes(declared.main), edges)
    )


def _from_lock(project: ProjectFiles, where: str) -> DevVerdict | None:
    lock = parse_poetry_lock(project.files[POETRY_LOCK], f"{where}/{POETRY_LOCK}")
    pyproject = project.files.get(PYPROJECT)
    declared = declared_roots(pyproject, f"{where}/{PYPROJECT}") if pyproject is not None else None
    if declared is not None and (declared.main or declared.dev):
        edges, main = edges_from(lock.dependencies), _root_nodes(declared.main)
        only = _exclusive(declared.dev, main, edges)
        return _verdict(
            DevSource.POETRY_LOCK,
            Confidence.HIGH,
            project.location,
            declared.dev,
            only,
            _reached(main, edges),
        )
    only = _from_lock_fields(lock)
    if not any(p.category or p.groups for p in lock.packages.values()):
        return None  # a 2.0 lock alone cannot tell main from dev
    return _verdict(
        DevSource.POETRY_LOCK, Confidence.HIGH, project.location, (), only, _main_in_lock_fields(lock)
    )


def decide_dev_only(
    project: ProjectFiles | None, installed: Mapping[str, Sequence[Dependency]]
) -> DevVerdict:
    """`installed`: the project environment's distributions and their `Requires-Dist`."""
    if project is not None:
        where = project.location.rstrip("/")
        if POETRY_LOCK in project.files and (verdict := _from_lock(project, where)) is not None:
            return verdict
        if (pyproject := project.files.get(PYPROJECT)) is not None:
            declared = declared_roots(pyproject, f"{where}/{PYPROJECT}")
            if declared.dev:
                return _from_declared(
                    declared, installed, DevSource.PYPROJECT, Confidence.MEDIUM, project.location
                )
        if requirement_files := project.requirement_files:
            declared = requirement_roots(requirement_files)
            if declared.dev:
                return _from_declared(
                    declared, installed, DevSource.REQUIREMENTS, Confidence.MEDIUM, project.location
                )
    tools = [
        Root(name, frozenset(), HEURISTIC_GROUP) for name in sorted(installed) if name in WELL_KNOWN_DEV_TOOLS
    ]
    return _from_declared(
        Declared((), tuple(tools)), installed, DevSource.HEURISTIC, Confidence.HEURISTIC, None
    )

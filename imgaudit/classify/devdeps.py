"""Which installed distributions only development needs, and why.

Sources, best first: the first format of the registry (classify.projects) whose files give a
dependency graph:
1. a lock (poetry.lock, uv.lock, pdm.lock, Pipfile.lock, pip-compiled requirements): the lock's
   graph from the declared roots, or the lock's own labels (confidence high);
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
from imgaudit.classify.projects.interface import Declared, DependencyGraph, ProjectFiles
from imgaudit.classify.projects.registry import FORMATS
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
    format: str | None = None  # the project format that decided (classify.projects.registry)


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


def _verdict(
    source: DevSource,
    confidence: Confidence,
    where: str | None,
    dev: Sequence[Root],
    only: dict[str, str],
    main_needed: frozenset[str] = frozenset(),
    fmt: str | None = None,
) -> DevVerdict:
    dependencies = DevDependencies(source, confidence, where, _labels(dev), fmt)
    return DevVerdict(dependencies, only, main_needed, fmt)


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
    fmt: str | None = None,
) -> DevVerdict:
    edges = edges_from(installed)
    others = _root_nodes(declared.main) + _installed_users(installed, edges, declared.dev)
    only = _exclusive(declared.dev, others, edges)
    main_needed = _reached(_root_nodes(declared.main), edges)
    return _verdict(source, confidence, where, declared.dev, only, main_needed, fmt)


def _from_graph(
    graph: DependencyGraph, project: ProjectFiles, installed: Mapping[str, Sequence[Dependency]], fmt: str
) -> DevVerdict:
    """The file's own labels, else its graph from the declared roots, else installed metadata."""
    where = project.location
    if graph.labelled is not None:
        labelled = dict(graph.labelled)
        return _verdict(graph.source, graph.confidence, where, graph.dev, labelled, graph.labelled_main, fmt)
    if graph.edges is not None:
        edges, main = edges_from(graph.edges), _root_nodes(graph.main)
        only = _exclusive(graph.dev, main, edges)
        return _verdict(graph.source, graph.confidence, where, graph.dev, only, _reached(main, edges), fmt)
    declared = Declared(graph.main, graph.dev)
    return _from_declared(declared, installed, graph.source, graph.confidence, where, fmt)


def decide_dev_only(
    project: ProjectFiles | None, installed: Mapping[str, Sequence[Dependency]]
) -> DevVerdict:
    """`installed`: the project environment's distributions and their `Requires-Dist`."""
    if project is not None:
        for fmt in FORMATS:
            if (graph := fmt.read(project)) is not None:
                return _from_graph(graph, project, installed, fmt.name)
    tools = [
        Root(name, frozenset(), HEURISTIC_GROUP) for name in sorted(installed) if name in WELL_KNOWN_DEV_TOOLS
    ]
    return _from_declared(
        Declared((), tuple(tools)), installed, DevSource.HEURISTIC, Confidence.HEURISTIC, None
    )

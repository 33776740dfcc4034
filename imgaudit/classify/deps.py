"""Dependency graphs over `(name, extra)` nodes, whichever file they come from.

`(name, None)` is a distribution; `(name, "test")` is its extra, which needs the distribution
itself plus what that extra adds. Lock files and installed metadata both become this shape, so
one closure serves both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

Node = tuple[str, str | None]
Edges = Callable[[Node], Iterable[Node]]


@dataclass(frozen=True, slots=True)
class Dependency:
    name: str  # canonical
    extras: frozenset[str] = frozenset()
    when_extra: str | None = None  # only when this extra of the dependent is asked for
    # The requirement's environment marker (`python_version < "3.12"`), as written; None: always.
    marker: str | None = None


@dataclass(frozen=True, slots=True)
class Root:
    """A dependency the project declares directly, and the group that declares it."""

    name: str
    extras: frozenset[str]
    group: str  # `main`, a Poetry/PEP 735 group, or `extra:<name>`


def nodes_of(name: str, extras: Iterable[str]) -> list[Node]:
    return [(name, None), *((name, e) for e in sorted(extras))]


def edges_from(dependencies: Mapping[str, Iterable[Dependency]]) -> Edges:
    """Edges for a graph given as `name -> what it depends on`."""

    def edges(node: Node) -> list[Node]:
        name, extra = node
        found: list[Node] = [(name, None)] if extra is not None else []
        for dep in dependencies.get(name, ()):
            if dep.when_extra == extra:
                found.extend(nodes_of(dep.name, dep.extras))
        return found

    return edges

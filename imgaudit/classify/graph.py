"""Reachability over dependency graphs: which nodes only some roots need.

Python distributions (lock files, installed metadata) and OS packages (dpkg/apk) all ask the
same question: what do these roots pull in that nothing else needs?
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TypeVar

Node = TypeVar("Node", bound=Hashable)


def closure(roots: Iterable[Node], edges: Callable[[Node], Iterable[Node]]) -> dict[Node, Node]:
    """Every node reachable from `roots`, mapped to the root that reaches it first (BFS order,
    so a node names its nearest root)."""
    reached: dict[Node, Node] = {}
    frontier: list[tuple[Node, Node]] = [(r, r) for r in roots]
    while frontier:
        following: list[tuple[Node, Node]] = []
        for node, root in frontier:
            if node in reached:
                continue
            reached[node] = root
            following.extend((child, root) for child in edges(node) if child not in reached)
        frontier = following
    return reached


def exclusive(
    roots: Iterable[Node], others: Iterable[Node], edges: Callable[[Node], Iterable[Node]]
) -> dict[Node, Node]:
    """Nodes reachable from `roots` but from none of `others`, each with its root."""
    own = closure(roots, edges)
    shared = closure(others, edges)
    return {node: root for node, root in own.items() if node not in shared}


def exclusive_against_rest(
    roots: Iterable[Node], nodes: Iterable[Node], edges: Callable[[Node], Iterable[Node]]
) -> dict[Node, Node]:
    """Nodes only `roots` need: everything the roots do not reach counts as a user, so a node
    that any of them depends on is shared."""
    own = closure(roots, edges)
    rest = [n for n in nodes if n not in own]
    shared = closure(rest, edges)
    return {node: root for node, root in own.items() if node not in shared}


def adjacency(graph: Mapping[Node, Iterable[Node]]) -> Callable[[Node], Iterable[Node]]:
    return lambda node: graph.get(node, ())

"""Python distribution names and requirement strings, as packaging tools read them."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[-_.]+")
# A requirement starts with its name, optionally followed by `[extras]`.
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA_MARKER = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")


def canonical(name: str) -> str:
    """PEP 503: `Foo.Bar_baz` -> `foo-bar-baz`."""
    return _SEPARATORS.sub("-", name).lower().strip("-")


def requirement_name(text: str) -> str | None:
    """The canonical name a requirement (`pkg[x] (>=1) ; marker`) asks for, or None."""
    match = _REQUIREMENT.match(text)
    return canonical(match.group(1)) if match else None


def requirement_extras(text: str) -> frozenset[str]:
    match = _REQUIREMENT.match(text)
    if not match or not match.group(2):
        return frozenset()
    return frozenset(canonical(e) for e in match.group(2).split(",") if e.strip())


def marker_extra(text: str) -> str | None:
    """`Requires-Dist: x ; extra == "test"` applies only when that extra is asked for."""
    _, _, marker = text.partition(";")
    match = _EXTRA_MARKER.search(marker)
    return canonical(match.group(1)) if match else None

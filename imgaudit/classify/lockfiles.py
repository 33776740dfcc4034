"""`poetry.lock`, every format in use, as a dependency graph.

- lock-version 1.x (Poetry < 1.5): each package has `category = "main" | "dev"`;
- 2.0 (Poetry 1.5-1.8): no categories, no groups: only the graph tells dev from main;
- 2.1 (Poetry 2): `groups = [...]` and per-group `markers`.
Optional dependencies count only through the extras that ask for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imgaudit.classify.deps import Dependency
from imgaudit.classify.names import canonical, requirement_extras, requirement_name
from imgaudit.errors import ClassifyError
from imgaudit.inputs import load_toml as load_capped_toml


@dataclass(frozen=True, slots=True)
class LockedPackage:
    name: str  # canonical
    version: str
    dependencies: tuple[Dependency, ...]
    category: str | None = None  # lock 1.x
    groups: tuple[str, ...] = ()  # lock 2.1


@dataclass(frozen=True, slots=True)
class PoetryLock:
    lock_version: str
    packages: Mapping[str, LockedPackage]

    @property
    def dependencies(self) -> dict[str, tuple[Dependency, ...]]:
        return {name: package.dependencies for name, package in self.packages.items()}


def load_toml(data: bytes, where: str) -> dict[str, Any]:
    return load_capped_toml(data, where.rpartition("/")[2], where, ClassifyError)


def _specs(value: Any) -> list[dict[str, Any]]:
    """A dependency's constraint: `"*"`, a table, or a list of tables (one per marker)."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):
        return [value]
    return [{}]


def _package(raw: Mapping[str, Any], where: str) -> LockedPackage:
    name, version = raw.get("name"), raw.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        raise ClassifyError("a [[package]] entry lacks a name or version", where=where)
    dependencies, extras_table = raw.get("dependencies") or {}, raw.get("extras") or {}
    if not isinstance(dependencies, dict) or not isinstance(extras_table, dict):
        raise ClassifyError(f"[[package]] {name}: dependencies and extras should be tables", where=where)
    deps: list[Dependency] = []
    for dep_name, value in dependencies.items():
        specs = _specs(value)
        extras = frozenset(canonical(e) for s in specs for e in s.get("extras") or [] if isinstance(e, str))
        if not any(s.get("optional") for s in specs):  # else only through an extra, below
            deps.append(Dependency(canonical(dep_name), extras))
    for extra, wanted in extras_table.items():
        texts = [t for t in wanted if isinstance(t, str)] if isinstance(wanted, list) else []
        deps.extend(
            Dependency(dep, requirement_extras(t), canonical(extra))
            for t in texts
            if (dep := requirement_name(t))
        )
    groups = raw.get("groups")
    category = raw.get("category")
    return LockedPackage(
        canonical(name),
        version,
        tuple(deps),
        category if isinstance(category, str) else None,
        tuple(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else (),
    )


def parse_poetry_lock(data: bytes, where: str = "poetry.lock") -> PoetryLock:
    document = load_toml(data, where)
    packages = document.get("package", [])
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        raise ClassifyError("[[package]] is not a list of tables", where=where)
    metadata = document.get("metadata")
    version = metadata.get("lock-version") if isinstance(metadata, dict) else None
    if not isinstance(version, str):
        raise ClassifyError("no [metadata] lock-version: not a poetry.lock", where=where)
    parsed = [_package(p, where) for p in packages]
    return PoetryLock(version, {p.name: p for p in parsed})

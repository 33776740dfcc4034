"""One report against another: what grew, shrank, appeared or disappeared, largest first.

Works on `ReportFigures`, so either side may come from a stored JSON report or a fresh
audit: `imgaudit diff` needs neither image once both reports exist.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from imgaudit.report.loader import LayerFigure, ReportFigures

# The classic builder names copied content by digest (`COPY file:3f2a… in /app`): a changed
# file would make the step look new. Matched without the digest, it is the same step grown.
_CONTENT_DIGEST = re.compile(r"\b(file|dir|multi):[0-9a-f]{64}\b")


class ChangeKind(StrEnum):
    GREW = "grew"
    SHRANK = "shrank"
    APPEARED = "appeared"
    DISAPPEARED = "disappeared"
    UNCHANGED = "unchanged"


class Scope(StrEnum):
    TOTAL = "total"
    CATEGORY = "category"
    LAYER = "layer"
    PACKAGE = "package"


@dataclass(frozen=True, slots=True)
class Change:
    """One thing measured on both sides; `None` on a side means it is absent there."""

    scope: Scope
    name: str
    before: int | None
    after: int | None
    detail: str = ""  # e.g. a package's versions, "1.0 -> 1.1"

    @property
    def delta(self) -> int:
        return (self.after or 0) - (self.before or 0)

    @property
    def kind(self) -> ChangeKind:
        if self.before is None and self.after is not None:
            return ChangeKind.APPEARED
        if self.after is None and self.before is not None:
            return ChangeKind.DISAPPEARED
        if self.delta > 0:
            return ChangeKind.GREW
        return ChangeKind.SHRANK if self.delta < 0 else ChangeKind.UNCHANGED

    @property
    def percent(self) -> float | None:
        """Growth relative to the before side; None when there was nothing before."""
        return 100 * self.delta / self.before if self.before else None


@dataclass(frozen=True, slots=True)
class Comparison:
    before_reference: str
    after_reference: str
    total: Change  # all layers as they ship
    final: Change  # the merged filesystem
    categories: tuple[Change, ...]
    layers: tuple[Change, ...]
    # None when either report has no Python environments: absent data is not "no packages".
    packages: tuple[Change, ...] | None

    def changes(self) -> tuple[Change, ...]:
        """Every category, layer and package change, largest first."""
        return _ranked([*self.categories, *self.layers, *(self.packages or ())])


def compare(before: ReportFigures, after: ReportFigures) -> Comparison:
    return Comparison(
        before_reference=before.reference,
        after_reference=after.reference,
        total=Change(Scope.TOTAL, "image (all layers)", before.total_bytes, after.total_bytes),
        final=Change(Scope.TOTAL, "final filesystem", before.final_bytes, after.final_bytes),
        categories=_changes(Scope.CATEGORY, _nonzero(before.categories), _nonzero(after.categories)),
        layers=_changes(Scope.LAYER, _layers_by_step(before.layers), _layers_by_step(after.layers)),
        packages=_packages(before, after),
    )


def _nonzero(sizes: Mapping[str, int]) -> dict[str, int]:
    # A category of 0 bytes is as good as absent: a report lists every category id.
    return {name: size for name, size in sizes.items() if size}


def _layers_by_step(layers: Iterable[LayerFigure]) -> dict[str, int]:
    """Layers keyed by instruction; a repeated instruction is matched by its occurrence
    (the second `RUN true` of one image with the second of the other)."""
    seen: dict[str, int] = defaultdict(int)
    keyed: dict[str, int] = {}
    for layer in layers:
        step = _CONTENT_DIGEST.sub(r"\1:…", layer.instruction)
        seen[step] += 1
        occurrence = seen[step]
        key = step if occurrence == 1 else f"{step} [#{occurrence}]"
        keyed[key] = layer.size_bytes
    return keyed


def _packages(before: ReportFigures, after: ReportFigures) -> tuple[Change, ...] | None:
    if before.distributions is None or after.distributions is None:
        return None
    # With one environment a side, packages match by name even if the venv moved (/opt/venv ->
    # /app/.venv); with several, the same name in two environments is two packages.
    several = any(
        len({d.environment for d in side}) > 1 for side in (before.distributions, after.distributions)
    )

    def keyed(figures: ReportFigures) -> dict[str, tuple[int, str | None]]:
        sizes: dict[str, tuple[int, str | None]] = {}
        for dist in figures.distributions or ():
            key = f"{dist.name} ({dist.environment})" if several else dist.name
            size, _ = sizes.get(key, (0, None))
            sizes[key] = (size + dist.bytes, dist.version)
        return sizes

    old, new = keyed(before), keyed(after)
    changes = []
    for name in old.keys() | new.keys():
        was, now = old.get(name), new.get(name)
        versions = _versions(was[1] if was else None, now[1] if now else None)
        changes.append(
            Change(Scope.PACKAGE, name, was[0] if was else None, now[0] if now else None, versions)
        )
    return _ranked(changes)


def _versions(before: str | None, after: str | None) -> str:
    if before and after and before != after:
        return f"{before} -> {after}"
    return after or before or ""


def _changes(scope: Scope, before: Mapping[str, int], after: Mapping[str, int]) -> tuple[Change, ...]:
    return _ranked(
        Change(scope, name, before.get(name), after.get(name)) for name in before.keys() | after.keys()
    )


def _ranked(changes: Iterable[Change]) -> tuple[Change, ...]:
    kept = [c for c in changes if c.kind is not ChangeKind.UNCHANGED]
    return tuple(sorted(kept, key=lambda c: (-abs(c.delta), c.scope.value, c.name)))


def to_dict(comparison: Comparison) -> dict[str, Any]:
    """The `comparison` section of the JSON report and of `imgaudit diff --format json`."""

    def change(item: Change) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": item.name,
            "change": item.kind.value,
            "before_bytes": item.before,
            "after_bytes": item.after,
            "delta_bytes": item.delta,
        }
        if item.detail:
            entry["detail"] = item.detail
        return entry

    return {
        "before": comparison.before_reference,
        "after": comparison.after_reference,
        "total": change(comparison.total),
        "final": change(comparison.final),
        "categories": [change(c) for c in comparison.categories],
        "layers": [change(c) for c in comparison.layers],
        "packages": None if comparison.packages is None else [change(c) for c in comparison.packages],
    }

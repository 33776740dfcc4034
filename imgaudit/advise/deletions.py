"""`late-deletion`: bytes created by one layer and deleted by a later one still ship."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from imgaudit.advise.interface import AdviceContext, Candidate, Unit, top_paths, wasted_unit
from imgaudit.classify.context import instruction
from imgaudit.layers.merge import Removal
from imgaudit.model import Evidence, Fix, Severity

_DELETIONS = (Removal.DELETED, Removal.HIDDEN)


def late_deletions(ctx: AdviceContext) -> Sequence[Candidate]:
    """One finding per (shipping layer, deleting layer) pair: each pair is one edit."""
    pairs: dict[tuple[int, int], set[Unit]] = defaultdict(set)
    for j, item in enumerate(ctx.merged.wasted):
        if item.removal in _DELETIONS and ctx.above_base(item.removed_by) and item.size:
            pairs[(item.shipped_by, item.removed_by)].add(wasted_unit(j))
    candidates = []
    for (shipped, removed), units in sorted(pairs.items(), key=lambda kv: -ctx.bytes_of(kv[1])):
        made_by, removed_with = _step(ctx, shipped), _step(ctx, removed)
        roots = sorted({"/" + ctx.merged.wasted[-u - 1].root for u in units})
        where = " ".join(roots[:5])
        candidates.append(
            Candidate(
                id="late-deletion",
                title=f"Deleted by layer {removed}, but layer {shipped} still ships it",
                severity=Severity.HIGH,
                units=frozenset(units),
                evidence=Evidence(
                    paths=top_paths(ctx, units),
                    layers=(shipped, removed),
                    details=(f"created by: {made_by}", f"deleted by: {removed_with}", f"deleted: {where}"),
                ),
                fix=Fix(
                    "Delete in the same RUN that creates the files (or never create them); "
                    "a later `RUN rm` only hides them.",
                    f"{made_by or 'RUN ...'} \\\n    && rm -rf {where}",
                ),
                savings_basis="bytes shipped by the creating layer that the deleting layer hides",
            )
        )
    return candidates


def _step(ctx: AdviceContext, layer: int) -> str:
    return instruction(ctx.layers[layer].created_by) if layer < len(ctx.layers) else ""

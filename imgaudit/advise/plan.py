"""The fixes in the article's order, each step's marginal saving over the union of units.

A multi-stage build also drops the caches, and `--without dev` shrinks the venv it copies:
attributing bytes per unit, not per finding, is what keeps the sum honest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from imgaudit.advise.interface import AdviceContext, Unit
from imgaudit.model import Plan, PlanStep


@dataclass(frozen=True, slots=True)
class StepTemplate:
    title: str
    finding_ids: tuple[str, ...]


# The reference article's order: pin, copy less, no dev deps, clean Poetry's cache,
# cache-friendly order, multi-stage; the mantras' cache hygiene sits with the cache step.
ARTICLE_ORDER: tuple[StepTemplate, ...] = (
    StepTemplate("Pin Poetry's version", ("unpinned-poetry",)),
    StepTemplate("Copy only what the app needs", ("unneeded-files-copied",)),
    StepTemplate("Install without dev dependencies", ("dev-dependencies-installed",)),
    StepTemplate(
        "Venv in the project; delete Poetry's cache in the same RUN",
        ("venv-not-in-project", "poetry-cache-in-layer"),
    ),
    StepTemplate("No pip cache", ("pip-cache-in-layer",)),
    # uv, PDM, Pipenv projects (classify.projects): their caches, as their Docker guides say.
    StepTemplate(
        "No uv/PDM/Pipenv cache in a layer: a cache mount, or delete it in the same RUN",
        ("uv-cache-in-layer", "pdm-cache-in-layer", "pipenv-cache-in-layer"),
    ),
    StepTemplate("No conda package cache: `conda clean --all` in the same RUN", ("conda-cache-in-layer",)),
    StepTemplate("Delete in the same RUN that creates", ("late-deletion",)),
    StepTemplate("Write each file once: owner and mode where it is written", ("files-rewritten-later",)),
    StepTemplate("apt: no recommends, no lists left", ("apt-recommends", "apt-lists-left")),
    StepTemplate("apk: `--no-cache`, no index left", ("apk-cache-left",)),
    StepTemplate("Copy dependency files first, code last", ("cache-unfriendly-order",)),
    StepTemplate(
        "Multi-stage build: runtime gets only the venv and the app",
        ("toolchain-at-runtime", "build-toolchain-at-runtime", "fat-base-image"),
    ),
)


def build_plan(ctx: AdviceContext, units_by_id: Mapping[str, Sequence[frozenset[Unit]]]) -> Plan:
    """Steps for the findings present; each step saves what no earlier step already saved."""
    removed: set[Unit] = set()
    steps: list[PlanStep] = []
    total = ctx.total_bytes
    compressed_total: int | None = None
    for template in ARTICLE_ORDER:
        present = tuple(i for i in template.finding_ids if i in units_by_id)
        if not present:
            continue
        step_units = set().union(*(u for i in present for u in units_by_id[i])) - removed
        removed |= step_units
        compressed = ctx.compressed_bytes_of(step_units)
        if compressed is not None:
            compressed_total = (compressed_total or 0) + compressed
        steps.append(
            PlanStep(
                finding_ids=present,
                title=template.title,
                estimated_savings_bytes=ctx.bytes_of(step_units),
                estimated_final_bytes=total - ctx.bytes_of(removed),
                estimated_savings_compressed_bytes=compressed,
            )
        )
    saved = ctx.bytes_of(removed)
    return Plan(
        steps=tuple(steps),
        estimated_savings_bytes=saved,
        estimated_final_bytes=total - saved,
        estimated_savings_compressed_bytes=compressed_total,
    )

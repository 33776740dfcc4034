"""The advise stage: the reference article's fixes, mapped to this image, with savings.

Pure: `advise(ctx)` reads the merged filesystem, the classification, the image info and
layer descriptors, and returns findings and a plan. One module per finding family; every
finding id is stable and can be ignored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import replace

from imgaudit.advise import (
    apt,
    build_context,
    caches,
    deletions,
    multistage,
    packages,
    poetry_setup,
    rewrites,
    venvs,
)
from imgaudit.advise.interface import AdviceContext, Candidate, Detector, Unit
from imgaudit.advise.plan import build_plan
from imgaudit.findings import catalogue as findings_catalogue
from imgaudit.model import Finding, Plan

# id -> detector, in catalogue order.
CATALOGUE: dict[str, Detector] = {
    "poetry-cache-in-layer": caches.poetry_cache,
    "pip-cache-in-layer": caches.pip_cache,
    "uv-cache-in-layer": caches.uv_cache,
    "pdm-cache-in-layer": caches.pdm_cache,
    "pipenv-cache-in-layer": caches.pipenv_cache,
    "conda-cache-in-layer": caches.conda_cache,
    "late-deletion": deletions.late_deletions,
    "files-rewritten-later": rewrites.rewritten_files,
    "duplicate-venv": venvs.duplicate_venvs,
    "dev-dependencies-installed": packages.dev_dependencies,
    "toolchain-at-runtime": multistage.toolchain,
    "build-toolchain-at-runtime": multistage.build_toolchain,
    "fat-base-image": multistage.fat_base,
    "venv-not-in-project": poetry_setup.venv_not_in_project,
    "unpinned-poetry": poetry_setup.unpinned_poetry,
    "cache-unfriendly-order": build_context.cache_unfriendly_order,
    "unneeded-files-copied": build_context.unneeded_files,
    "apt-lists-left": caches.apt_lists,
    "apk-cache-left": caches.apk_cache,
    "apt-recommends": apt.apt_recommends,
}
FINDING_IDS = tuple(CATALOGUE)
# Findings whose estimate depends on where the app was installed: they say which layout they saw.
LAYOUT_DEPENDENT = frozenset(
    {"toolchain-at-runtime", "dev-dependencies-installed", "build-toolchain-at-runtime", "fat-base-image"}
)


def check_ids(ids: Collection[str]) -> None:
    """Any id of the findings catalogue: an `ignore` list is shared by `audit` and `lint`."""
    findings_catalogue.check_ids(ids)


def advise(ctx: AdviceContext, ignore: Collection[str] = ()) -> tuple[tuple[Finding, ...], Plan]:
    """Findings (largest saving first) and the plan over the union of their units."""
    check_ids(ignore)
    candidates = [
        c for finding_id, detect in CATALOGUE.items() if finding_id not in ignore for c in detect(ctx)
    ]
    units_by_id: dict[str, list[frozenset[Unit]]] = defaultdict(list)
    for candidate in candidates:
        if candidate.in_plan:
            units_by_id[candidate.id].append(candidate.units)
    findings = sorted((_finding(ctx, c) for c in candidates), key=lambda f: -f.estimated_savings_bytes)
    return tuple(findings), build_plan(ctx, units_by_id)


def _finding(ctx: AdviceContext, candidate: Candidate) -> Finding:
    saved = ctx.bytes_of(candidate.units)
    evidence = candidate.evidence
    if evidence.install_layout is None and ctx.runtime is not None and candidate.id in LAYOUT_DEPENDENT:
        evidence = replace(evidence, install_layout=ctx.runtime.layout)
    return Finding(
        id=candidate.id,
        title=candidate.title,
        severity=candidate.severity or findings_catalogue.entry(candidate.id).severity,
        estimated_savings_bytes=saved,
        share=round(saved / ctx.total_bytes, 6) if ctx.total_bytes else 0.0,
        evidence=evidence,
        fix=candidate.fix,
        savings_basis=candidate.savings_basis,
        estimated_savings_compressed_bytes=ctx.compressed_bytes_of(candidate.units),
        dockerfile_lines=ctx.instruction_lines(candidate.evidence.layers),
    )

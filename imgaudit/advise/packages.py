"""`dev-dependencies-installed`: dev-only packages in the runtime image."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from imgaudit.advise.caches import cache_units, locations
from imgaudit.advise.interface import AdviceContext, Candidate, Unit, layers_of, top_paths
from imgaudit.classify.projects.registry import advising_format
from imgaudit.findings.catalogue import entry
from imgaudit.model import Category, Evidence, Fix

_DIST_INFO_DIR = re.compile(r"/(?P<name>[^/]+?)-(?P<version>[^-/]+)\.(?:dist-info|egg-info)/")


def distributions(ctx: AdviceContext, units: Iterable[Unit]) -> tuple[str, ...]:
    """`name==version` of the distributions whose metadata is among units."""
    found = {
        f"{m['name']}=={m['version']}" for u in units if (m := _DIST_INFO_DIR.search("/" + ctx.unit_path(u)))
    }
    return tuple(sorted(found, key=str.lower))


def _archive_stem(name: str, version: str) -> str:
    """How wheels and sdists name a distribution: `Foo.Bar 1.0` -> `foo_bar-1.0`."""
    return f"{re.sub(r'[-_.]+', '_', name).lower()}-{version.lower()}"


def cached_archives(ctx: AdviceContext, dists: Iterable[str]) -> frozenset[Unit]:
    """Downloaded wheels and sdists of these distributions in Poetry's, pip's and the other
    formats' caches (deleted later or not): skipping a package also skips its download."""
    stems = tuple(_archive_stem(*d.split("==", 1)) for d in dists)
    if not stems:
        return frozenset()
    where = locations(ctx)
    candidates = cache_units(
        ctx, Category.POETRY_CACHE, where.poetry, where.poetry_virtualenvs
    ) | cache_units(ctx, Category.PIP_CACHE, where.pip)
    for tool in where.tools:
        candidates |= cache_units(ctx, tool.category, tool.roots, tool.keep_out)
    found = set()
    for unit in candidates:
        name = ctx.unit_path(unit).rsplit("/", 1)[-1]
        stem = re.sub(r"[-_.]+", "_", name.split("-", 1)[0]).lower() + "-" + name.split("-", 1)[-1].lower()
        if name.endswith((".whl", ".tar.gz", ".zip")) and stem.startswith(stems):
            found.add(unit)
    return frozenset(found)


def dev_dependencies(ctx: AdviceContext) -> Sequence[Candidate]:
    installed = ctx.category_units(Category.DEV_PACKAGES)
    if not installed:
        return ()
    # The attribution decided which distributions are dev-only; a context built without one
    # (unit tests of the advisor alone) names them from their metadata directories.
    packages = ctx.dev_distributions or distributions(ctx, installed)
    units = installed | cached_archives(ctx, packages)
    advice = advising_format(ctx.project_format, ctx.project).install_advice(ctx.project)
    return (
        Candidate(
            id="dev-dependencies-installed",
            title=entry("dev-dependencies-installed").text("title"),
            units=units,
            evidence=Evidence(
                paths=top_paths(ctx, installed), layers=layers_of(ctx, units), packages=packages
            ),
            fix=Fix(advice.text, advice.snippet),
            savings_basis="bytes of the files of dev-only packages (the project's dev group and what only it "
            "needs), and of their downloaded wheels in the package caches",
        ),
    )

"""`poetry-cache-in-layer`, `pip-cache-in-layer`, `apt-lists-left`: caches that ship.

A cache deleted by a later layer still ships, so the cache's wasted files count here too:
the fix (clean up in the same RUN) removes both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from imgaudit.advise.interface import (
    AdviceContext,
    Candidate,
    Unit,
    layers_of,
    top_paths,
    wasted_unit,
)
from imgaudit.classify.categories import venv_roots
from imgaudit.classify.context import CacheLocations, PathSet, cache_locations, user_homes
from imgaudit.model import Category, Evidence, Fix, Severity


def locations(ctx: AdviceContext) -> CacheLocations:
    env = ctx.info.env
    return cache_locations(user_homes(ctx.info.user, env, ctx.merged.contents.get("etc/passwd")), env)


def cache_units(
    ctx: AdviceContext, category: Category, roots: Sequence[str], keep_out: Sequence[str] = ()
) -> frozenset[Unit]:
    inside, outside = PathSet(roots), PathSet(keep_out)
    wasted = frozenset(
        wasted_unit(j)
        for j, item in enumerate(ctx.merged.wasted)
        if ctx.above_base(item.shipped_by) and item.path in inside and item.path not in outside
    )
    return ctx.category_units(category) | wasted


def poetry_cache(ctx: AdviceContext) -> Sequence[Candidate]:
    where = locations(ctx)
    units = cache_units(ctx, Category.POETRY_CACHE, where.poetry, where.poetry_virtualenvs)
    if not units:
        return ()
    venv_in_cache = any(v in PathSet(where.poetry_virtualenvs) for v in venv_roots(ctx.merged))
    snippet = "ENV POETRY_CACHE_DIR=/tmp/poetry_cache"
    if venv_in_cache:
        # Deleting the cache dir would delete a venv that lives inside it.
        snippet += " \\\n    POETRY_VIRTUALENVS_IN_PROJECT=1"
    snippet += "\nRUN poetry install --without dev --no-root && rm -rf $POETRY_CACHE_DIR"
    return (
        Candidate(
            id="poetry-cache-in-layer",
            title="Poetry's cache ships in the image",
            severity=Severity.HIGH,
            units=units,
            evidence=Evidence(paths=top_paths(ctx, units), layers=layers_of(ctx, units)),
            fix=Fix(
                "Point POETRY_CACHE_DIR at a throw-away directory and remove it in the same RUN "
                "as `poetry install`"
                + (" (keep the venv out of it: POETRY_VIRTUALENVS_IN_PROJECT=1)." if venv_in_cache else "."),
                snippet,
            ),
            savings_basis="bytes of Poetry's cache (artifacts, cache, downloads) in every layer, deleted later or not",
        ),
    )


def pip_cache(ctx: AdviceContext) -> Sequence[Candidate]:
    units = cache_units(ctx, Category.PIP_CACHE, locations(ctx).pip)
    if not units:
        return ()
    return (
        Candidate(
            id="pip-cache-in-layer",
            title="pip's cache ships in the image",
            severity=Severity.MEDIUM,
            units=units,
            evidence=Evidence(paths=top_paths(ctx, units), layers=layers_of(ctx, units)),
            fix=Fix(
                "Tell pip not to keep a cache: `pip install --no-cache-dir`, or PIP_NO_CACHE_DIR=1 for every step.",
                "ENV PIP_NO_CACHE_DIR=1",
            ),
            savings_basis="bytes of pip's cache (http-v2, wheels) in every layer, deleted later or not",
        ),
    )


# What apt leaves, as the deletion that removes it: lists, the package caches apt rebuilds
# from them (`pkgcache.bin`, `srcpkgcache.bin`), downloaded archives.
_APT_LEFTOVERS = {
    "/var/lib/apt/lists/*": "package lists",
    "/var/cache/apt/*.bin": "pkgcache.bin/srcpkgcache.bin",
    "/var/cache/apt/archives/*.deb": "downloaded packages",
    "/var/cache/apt/*": "other apt caches",
}


def _apt_glob(path: str) -> str:
    if path.startswith("var/lib/apt/lists/"):
        return "/var/lib/apt/lists/*"
    if path.startswith("var/cache/apt/archives/") and path.endswith(".deb"):
        return "/var/cache/apt/archives/*.deb"
    if path.startswith("var/cache/apt/") and path.count("/") == 3 and path.endswith(".bin"):
        return "/var/cache/apt/*.bin"
    return "/var/cache/apt/*"


def apt_globs(paths: Iterable[str]) -> list[str]:
    """The deletions that remove exactly these apt files, in a stable order."""
    found = {_apt_glob(p) for p in paths}
    if "/var/cache/apt/*" in found:  # it covers the other two /var/cache/apt globs
        found -= {"/var/cache/apt/*.bin", "/var/cache/apt/archives/*.deb"}
    return [g for g in _APT_LEFTOVERS if g in found]


def apt_lists(ctx: AdviceContext) -> Sequence[Candidate]:
    units = cache_units(ctx, Category.APT_CACHE, locations(ctx).apt)
    if not units:
        return ()
    globs = apt_globs(ctx.unit_path(u) for u in units if ctx.unit_size(u))
    return (
        Candidate(
            id="apt-lists-left",
            title="apt lists or downloaded packages left in the image",
            severity=Severity.MEDIUM,
            units=units,
            evidence=Evidence(paths=top_paths(ctx, units), layers=layers_of(ctx, units)),
            fix=Fix(
                "Clean what apt left (" + ", ".join(_APT_LEFTOVERS[g] for g in globs) + ") in the RUN "
                "that installs packages.",
                "RUN apt-get update && apt-get install -y --no-install-recommends PACKAGES \\\n"
                f"    && rm -rf {' '.join(globs)}",
            ),
            savings_basis="bytes under /var/lib/apt/lists and /var/cache/apt added above the base",
        ),
    )

"""`poetry-cache-in-layer`, `pip-cache-in-layer`, `uv-cache-in-layer`, `pdm-cache-in-layer`,
`pipenv-cache-in-layer`, `apt-lists-left`, `apk-cache-left`: caches that ship.

A cache deleted by a later layer still ships, so the cache's wasted files count here too:
the fix (clean up in the same RUN) removes both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from imgaudit.advise.deletions import DELETIONS
from imgaudit.advise.interface import (
    AdviceContext,
    Candidate,
    Unit,
    layers_of,
    top_paths,
)
from imgaudit.classify.categories import venv_roots
from imgaudit.classify.context import APK_CACHE_ROOTS, CacheLocations, PathSet, cache_locations, user_homes
from imgaudit.findings.catalogue import entry
from imgaudit.model import Category, Evidence, Fix


def locations(ctx: AdviceContext) -> CacheLocations:
    env = ctx.info.env
    return cache_locations(user_homes(ctx.info.user, env, ctx.merged.contents.get("etc/passwd")), env)


def cache_units(
    ctx: AdviceContext, category: Category, roots: Sequence[str], keep_out: Sequence[str] = ()
) -> frozenset[Unit]:
    outside = PathSet(keep_out)
    wasted = frozenset(u for u in ctx.table.wasted_above_under(roots) if ctx.unit_path(u) not in outside)
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
            title=entry("poetry-cache-in-layer").text("title"),
            units=units,
            evidence=Evidence(paths=top_paths(ctx, units), layers=layers_of(ctx, units)),
            fix=Fix(
                entry("poetry-cache-in-layer").text("fix.venv-in-cache" if venv_in_cache else "fix"), snippet
            ),
            savings_basis="bytes of Poetry's cache (artifacts, cache, downloads) in every layer, deleted later or not",
        ),
    )


def pip_cache(ctx: AdviceContext) -> Sequence[Candidate]:
    where = locations(ctx)
    units = cache_units(ctx, Category.PIP_CACHE, where.pip)
    if not units:
        return ()
    pip_tools = PathSet(where.pip_tools)
    compiled = any(ctx.unit_path(u) in pip_tools for u in units)
    return (
        Candidate(
            id="pip-cache-in-layer",
            title=entry("pip-cache-in-layer").text("title"),
            units=units,
            evidence=Evidence(paths=top_paths(ctx, units), layers=layers_of(ctx, units)),
            fix=Fix(
                entry("pip-cache-in-layer").text("fix.pip-compile" if compiled else "fix"),
                PIP_COMPILE_SNIPPET if compiled else "ENV PIP_NO_CACHE_DIR=1",
            ),
            savings_basis="bytes of pip's cache (http-v2, wheels; pip-compile's pip-tools cache) in every "
            "layer, deleted later or not",
        ),
    )


PIP_COMPILE_SNIPPET = "RUN --mount=type=cache,target=/root/.cache pip-compile requirements.in"


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
            title=entry("apt-lists-left").text("title"),
            units=units,
            evidence=Evidence(paths=top_paths(ctx, units), layers=layers_of(ctx, units)),
            fix=Fix(
                entry("apt-lists-left").text("fix", leftovers=", ".join(_APT_LEFTOVERS[g] for g in globs)),
                "RUN apt-get update && apt-get install -y --no-install-recommends PACKAGES \\\n"
                f"    && rm -rf {' '.join(globs)}",
            ),
            savings_basis="bytes under /var/lib/apt/lists and /var/cache/apt added above the base",
        ),
    )


def _apk_leftover(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    if name.startswith("APKINDEX."):
        return "repository indexes"
    return "downloaded packages" if name.endswith(".apk") else "other cache files"


def apk_cache(ctx: AdviceContext) -> Sequence[Candidate]:
    """What the image's own layers left in apk's cache: the files the final filesystem still
    holds, and the earlier copies a later refresh overwrote (they ship in their layer; with
    `--no-cache` neither is written). Measured where it lies, not by a category: its bytes stay
    in the category the classification gave them. A cache a later layer deleted is
    late-deletion's; the base's cache is the base's."""
    roots = APK_CACHE_ROOTS
    wasted = ctx.merged.wasted
    final = (u for u in ctx.table.final_under(roots) if ctx.above_base(ctx.unit_layer(u)))
    overwritten = (u for u in ctx.table.wasted_above_under(roots) if wasted[-u - 1].removal not in DELETIONS)
    units = frozenset([*final, *overwritten])
    if not units:
        return ()
    paths = [ctx.unit_path(u) for u in units]
    leftovers = sorted({_apk_leftover(p) for p in paths})
    where = " ".join(
        f"/{root}/*" if any(p.startswith(root + "/") for p in paths) else f"/{root}"
        for root in roots
        if any(p == root or p.startswith(root + "/") for p in paths)
    )
    return (
        Candidate(
            id="apk-cache-left",
            title=entry("apk-cache-left").text("title"),
            units=units,
            evidence=Evidence(paths=top_paths(ctx, units), layers=layers_of(ctx, units)),
            fix=Fix(
                entry("apk-cache-left").text("fix", where=where, leftovers=" and ".join(leftovers)),
                "RUN apk add --no-cache PACKAGES",
            ),
            savings_basis="bytes under /var/cache/apk and /etc/apk/cache added above the base that the "
            "final filesystem still holds, and their earlier copies a later layer overwrote (a later "
            "layer's deletion of them is late-deletion)",
        ),
    )


@dataclass(frozen=True, slots=True)
class ToolCacheAdvice:
    finding_id: str
    tool: str
    snippet: str
    # How this tool's users keep a linked cache out of the image altogether, if it has a way.
    links_hint: str = ""


# What each tool's own Docker guidance says to do with its cache.
TOOL_CACHE_ADVICE: dict[Category, ToolCacheAdvice] = {
    Category.UV_CACHE: ToolCacheAdvice(
        "uv-cache-in-layer",
        "uv",
        "ENV UV_LINK_MODE=copy\n"
        "RUN --mount=type=cache,target=/root/.cache/uv \\\n"
        "    uv sync --locked --no-dev --no-install-project",
        "UV_LINK_MODE=copy with a cache mount keeps the cache out of the image entirely",
    ),
    Category.PDM_CACHE: ToolCacheAdvice(
        "pdm-cache-in-layer",
        "PDM",
        "RUN --mount=type=cache,target=/root/.cache/pdm \\\n    pdm install --check --prod --no-editable",
    ),
    Category.PIPENV_CACHE: ToolCacheAdvice(
        "pipenv-cache-in-layer",
        "Pipenv",
        "ENV PIPENV_VENV_IN_PROJECT=1\nRUN pipenv install --deploy && rm -rf /root/.cache/pipenv /root/.cache/pip",
    ),
    Category.CONDA_CACHE: ToolCacheAdvice(
        "conda-cache-in-layer",
        "conda",
        "RUN conda env create -f environment.yml && conda clean --all --yes",
    ),
}


def _shared_with_outside(ctx: AdviceContext, inside: PathSet) -> tuple[int, tuple[str, ...]]:
    """Bytes of files the cache hard-links to paths outside it (charged there), and the
    directories those paths sit in (the venvs a tool linked its files into)."""
    carriers = {c for p, c in ctx.merged.links.items() if p in inside and c not in inside}
    if not carriers:
        return 0, ()
    sizes = {f.path: f.size for f in ctx.merged.files}
    roots = PathSet(venv_roots(ctx.merged))
    where = sorted({root for c in carriers if (root := roots.root_of(c)) is not None})
    return sum(sizes.get(c, 0) for c in carriers), tuple("/" + w for w in where)


def _tool_cache(category: Category) -> Callable[[AdviceContext], Sequence[Candidate]]:
    advice = TOOL_CACHE_ADVICE[category]

    def detect(ctx: AdviceContext) -> Sequence[Candidate]:
        where = locations(ctx).tool(category)
        units = cache_units(ctx, category, where.roots, where.keep_out)
        inside = PathSet(where.roots)
        shared, venvs = _shared_with_outside(ctx, inside)
        if not units and not shared:
            return ()
        details: tuple[str, ...] = ()
        if shared:
            details = (
                f"{shared} more bytes of the cache are hard links into {', '.join(venvs) or 'the environments'} "
                f"({advice.tool} links installed files from its cache): they stay with the environment when "
                "the cache goes and are not counted here"
                + (f"; {advice.links_hint}" if advice.links_hint else ""),
            )
        return (
            Candidate(
                id=advice.finding_id,
                title=entry(advice.finding_id).text("title"),
                units=units,
                evidence=Evidence(paths=top_paths(ctx, units), layers=layers_of(ctx, units), details=details),
                fix=Fix(entry(advice.finding_id).text("fix"), advice.snippet),
                savings_basis=f"bytes only {advice.tool}'s cache holds, in every layer, deleted later or not "
                "(files it shares with a venv through hard links stay with the venv)",
            ),
        )

    return detect


uv_cache = _tool_cache(Category.UV_CACHE)
pdm_cache = _tool_cache(Category.PDM_CACHE)
pipenv_cache = _tool_cache(Category.PIPENV_CACHE)
conda_cache = _tool_cache(Category.CONDA_CACHE)

"""`toolchain-at-runtime`, `build-toolchain-at-runtime`, `fat-base-image`: what a runtime
stage that gets only the venv and the app's code would leave behind."""

from __future__ import annotations

import re
from collections.abc import Sequence

from imgaudit.advise.facts import ProjectFacts, project_facts
from imgaudit.advise.interface import AdviceContext, Candidate, Unit, layers_of, top_paths, wasted_unit
from imgaudit.advise.packages import distributions
from imgaudit.classify.context import PathSet
from imgaudit.model import Category, Evidence, Fix, Severity

# Debian packages only a build needs: compilers, headers, build drivers.
_BUILD_ONLY_PACKAGE = re.compile(
    r"^(?:gcc|g\+\+|cpp|make|build-essential|binutils|dpkg-dev|libc6-dev|linux-libc-dev|"
    r"autoconf|automake|libtool|pkg-config|pkgconf|cmake|.+-dev)(?:-[0-9.]+)?(?::\w+)?$"
)


def runtime_keeps(ctx: AdviceContext, facts: ProjectFacts) -> frozenset[Unit]:
    """Final files above the base a runtime stage gets: the venvs and the app's packages."""
    venvs = PathSet(facts.venvs)
    code = PathSet(_package_roots(facts))

    def kept(i: int, category: Category) -> bool:
        path = ctx.merged.files[i].path
        if path in venvs:
            return True
        if category is not Category.APP:
            return False
        return not code or path in code

    return ctx.final_units(lambda i, c: ctx.above_base(ctx.merged.files[i].layer) and kept(i, c))


def _package_roots(facts: ProjectFacts) -> list[str]:
    if facts.project_dir is None or not facts.package_dirs:
        return []
    prefix = f"{facts.project_dir}/" if facts.project_dir else ""
    return [f"{prefix}{p}" for p in facts.package_dirs]


def multi_stage_units(ctx: AdviceContext, facts: ProjectFacts) -> frozenset[Unit]:
    """Everything above the base that a runtime stage would not get, wasted bytes included."""
    keeps = runtime_keeps(ctx, facts)
    above = ctx.final_units(lambda i, _c: ctx.above_base(ctx.merged.files[i].layer))
    wasted = frozenset(
        wasted_unit(j) for j, w in enumerate(ctx.merged.wasted) if ctx.above_base(w.shipped_by) and w.size
    )
    return (above - keeps) | wasted


def toolchain(ctx: AdviceContext) -> Sequence[Candidate]:
    facts = project_facts(ctx.merged, ctx.info, ctx.base_layer_count)
    tools = ctx.final_units(
        lambda i, c: c is Category.PYTHON_TOOLCHAIN and ctx.above_base(ctx.merged.files[i].layer)
    )
    if not tools and facts.poetry_version is None:
        return ()
    units = multi_stage_units(ctx, facts)
    if not units:
        return ()
    packages = distributions(ctx, tools) or (f"poetry=={facts.poetry_version}",)
    keeps = runtime_keeps(ctx, facts)
    details = (
        f"pip/Poetry toolchain: {ctx.bytes_of(tools)} bytes",
        f"the runtime stage keeps {ctx.bytes_of(keeps)} bytes above the base: "
        f"venvs {', '.join('/' + v for v in facts.venvs) or 'none'}; app code "
        f"{', '.join(facts.package_dirs) or 'every COPY'}",
    )
    return (
        Candidate(
            id="toolchain-at-runtime",
            title="Poetry and the build toolchain ship in the runtime image",
            severity=Severity.HIGH,
            units=units,
            evidence=Evidence(
                paths=top_paths(ctx, tools or units),
                layers=layers_of(ctx, units),
                packages=packages,
                details=details,
            ),
            fix=Fix(
                "Build the venv in a builder stage; the runtime stage starts again from the base "
                "and copies only the venv and the app's code (`imgaudit fix` writes it).",
                "FROM BASE AS builder\n...\nRUN poetry install --without dev --no-root && rm -rf $POETRY_CACHE_DIR\n\n"
                'FROM BASE AS runtime\nWORKDIR /app\nENV VIRTUAL_ENV=/app/.venv PATH="/app/.venv/bin:$PATH"\n'
                "COPY --from=builder /app/.venv /app/.venv\nCOPY PACKAGE/ ./PACKAGE/",
            ),
            savings_basis="every byte above the base except the venvs and the app's packages "
            "(what a runtime stage copies), wasted bytes included",
        ),
    )


def build_toolchain(ctx: AdviceContext) -> Sequence[Candidate]:
    units = ctx.final_units(
        lambda i, c: c is Category.BUILD_TOOLCHAIN and ctx.above_base(ctx.merged.files[i].layer)
    )
    if not units:
        return ()
    return (
        Candidate(
            id="build-toolchain-at-runtime",
            title="Compilers, headers and build tools installed above the base ship at runtime",
            severity=Severity.HIGH,
            units=units,
            evidence=Evidence(paths=top_paths(ctx, units), layers=layers_of(ctx, units)),
            fix=Fix(
                "Install build tools only in the builder stage; the runtime stage gets the built venv.",
                "FROM BASE AS builder\nRUN apt-get update && apt-get install -y --no-install-recommends build-essential\n...\n"
                "FROM BASE AS runtime\nCOPY --from=builder /app/.venv /app/.venv",
            ),
            savings_basis="bytes of files classified build_toolchain above the base",
        ),
    )


def fat_base(ctx: AdviceContext) -> Sequence[Candidate]:
    """Build-only Debian packages in the base layers, from the dpkg database the base ships."""
    owners = _dpkg_owners(ctx)
    build_only = {path for path, package in owners.items() if _BUILD_ONLY_PACKAGE.match(package)}
    units = ctx.final_units(
        lambda i, _c: not ctx.above_base(ctx.merged.files[i].layer) and ctx.merged.files[i].path in build_only
    )
    if not units:
        return ()
    packages = tuple(sorted({owners[ctx.unit_path(u)] for u in units}))
    return (
        Candidate(
            id="fat-base-image",
            title="The base image carries compilers and headers the app does not run with",
            severity=Severity.MEDIUM,
            units=units,
            evidence=Evidence(paths=top_paths(ctx, units), layers=layers_of(ctx, units), packages=packages),
            fix=Fix(
                "Keep the full base for the builder stage only; run on its -slim variant.",
                "FROM python:X.Y AS builder\n...\nFROM python:X.Y-slim AS runtime",
            ),
            savings_basis="estimated: bytes of the base's build-only Debian packages (from its dpkg lists); "
            "a slim variant may differ in other packages too",
        ),
    )


def _dpkg_owners(ctx: AdviceContext) -> dict[str, str]:
    owners: dict[str, str] = {}
    prefix, suffix = "var/lib/dpkg/info/", ".list"
    for path, data in ctx.merged.contents.items():
        if path.startswith(prefix) and path.endswith(suffix):
            package = path[len(prefix) : -len(suffix)]
            for line in data.decode("utf-8", "replace").splitlines():
                if line.startswith("/") and len(line) > 1:
                    owners.setdefault(line[1:], package)
    return owners

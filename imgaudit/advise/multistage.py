"""`toolchain-at-runtime`, `build-toolchain-at-runtime`, `fat-base-image`: what a runtime
stage that gets only the venv and the app's code would leave behind."""

from __future__ import annotations

from collections.abc import Sequence

from imgaudit.advise.facts import ProjectFacts, project_facts
from imgaudit.advise.interface import AdviceContext, Candidate, Unit, layers_of, top_paths
from imgaudit.advise.packages import distributions
from imgaudit.classify.context import PathSet
from imgaudit.classify.projects.interface import ProjectFormat
from imgaudit.classify.projects.registry import advising_format
from imgaudit.findings.catalogue import entry
from imgaudit.model import Category, Evidence, Fix, SlimBase


def runtime_keeps(ctx: AdviceContext, facts: ProjectFacts) -> frozenset[Unit]:
    """Final files above the base a runtime stage gets: the runtime set (the app's venv, or its
    distributions in an interpreter it shares with the toolchain), the app's packages, and the
    OS packages it installs again (`imgaudit fix`: a `-dev` package's library, the RUN's tools)."""
    runtime = ctx.runtime.paths if ctx.runtime is not None else frozenset()
    venvs = PathSet(() if ctx.runtime is not None else facts.venvs)
    code = PathSet(_package_roots(facts))
    os_paths = ctx.runtime_os_paths

    def kept(i: int, category: Category) -> bool:
        path = ctx.unit_path(i)
        if path in runtime or path in venvs or path in os_paths:
            return True
        if category is not Category.APP:
            return False
        return not code or path in code

    return ctx.final_units(kept, above_base=True)


def _package_roots(facts: ProjectFacts) -> list[str]:
    if facts.project_dir is None or not facts.package_dirs:
        return []
    prefix = f"{facts.project_dir}/" if facts.project_dir else ""
    return [f"{prefix}{p}" for p in facts.package_dirs]


def multi_stage_units(ctx: AdviceContext, keeps: frozenset[Unit]) -> frozenset[Unit]:
    """Everything above the base that a runtime stage would not get (`keeps`: what it gets,
    `runtime_keeps`), wasted bytes included."""
    above = ctx.final_units(above_base=True)
    sizes = ctx.table.sizes
    wasted = frozenset(u for u in ctx.table.wasted_above_units if sizes[u])
    return (above - keeps) | wasted


def toolchain(ctx: AdviceContext) -> Sequence[Candidate]:
    facts = project_facts(ctx.merged, ctx.info, ctx.base_layer_count, ctx.project)
    tools = ctx.category_units(Category.PYTHON_TOOLCHAIN, above_base=True)
    if not tools and facts.poetry_version is None:
        return ()
    keeps = runtime_keeps(ctx, facts)
    units = multi_stage_units(ctx, keeps)
    if not units:
        return ()
    packages = distributions(ctx, tools) or (f"poetry=={facts.poetry_version}",)
    shared = ctx.runtime is not None and ctx.runtime.shared_interpreter
    where = ", ".join(ctx.runtime.environments) if ctx.runtime else ", ".join("/" + v for v in facts.venvs)
    details = (
        f"pip/Poetry toolchain: {ctx.bytes_of(tools)} bytes",
        f"the runtime set: {_runtime_bytes(ctx)} bytes the app runs on in {where or 'no environment found'} "
        "(its dependencies and the project, dev-only packages left out)",
        f"the runtime stage keeps {ctx.bytes_of(keeps)} bytes above the base: "
        f"{'the app part of ' if shared else 'venvs '}{where or 'none'}; app code "
        f"{', '.join(facts.package_dirs) or 'every COPY'}",
    )
    # The project's own tool (classify.projects): uv, PDM, Pipenv projects get their install line.
    tool = advising_format(ctx.project_format, ctx.project)
    install = (
        "RUN poetry install --without dev --no-root && rm -rf $POETRY_CACHE_DIR"
        if tool.name == "poetry"
        else tool.install_advice(ctx.project).snippet
    )
    return (
        Candidate(
            id="toolchain-at-runtime",
            title=entry("toolchain-at-runtime").text("title", tool=tool.label),
            units=units,
            evidence=Evidence(
                paths=top_paths(ctx, tools or units),
                layers=layers_of(ctx, units),
                packages=packages,
                details=details,
                install_layout=ctx.runtime.layout if ctx.runtime else None,
            ),
            fix=_multi_stage_fix(shared, install, tool),
            savings_basis="every byte above the base except the runtime set (the app's venv, or its "
            "distributions where it shares the interpreter with the toolchain), the app's packages "
            "(what a runtime stage copies) and the OS packages it installs again, wasted bytes included",
        ),
    )


def _runtime_bytes(ctx: AdviceContext) -> int:
    """The runtime set above the base, dev-only packages left out (the dev step removes them)."""
    if ctx.runtime is None:
        return 0
    not_dev = [c for c in Category if c is not Category.DEV_PACKAGES]
    return ctx.bytes_of(ctx.final_units(categories=not_dev, above_base=True, at_paths=ctx.runtime.paths))


def _multi_stage_fix(shared_interpreter: bool, install: str, tool: ProjectFormat) -> Fix:
    """Installed into the system interpreter, there is no venv to copy: the builder makes one,
    without pip and setuptools (the tool's own settings), so the runtime stage gets the runtime
    set and nothing of the toolchain. `install` is the project's own tool's install line
    (classify.projects)."""
    settings = (
        [("POETRY_VIRTUALENVS_IN_PROJECT", "1"), ("POETRY_CACHE_DIR", "/tmp/poetry_cache")]
        if tool.name == "poetry"
        else []
    )
    if shared_interpreter and tool.image_install is not None:
        settings += tool.image_install.unseeded_venv_env
    env = f"ENV {' '.join(f'{name}={value}' for name, value in settings)}\n" if settings else ""
    return Fix(
        entry("toolchain-at-runtime").text("fix.shared-interpreter", tool=tool.label)
        if shared_interpreter
        else entry("toolchain-at-runtime").text("fix"),
        f"FROM BASE AS builder\n...\n{env}{install}\n\n"
        'FROM BASE AS runtime\nWORKDIR /app\nENV VIRTUAL_ENV=/app/.venv PATH="/app/.venv/bin:$PATH"\n'
        "COPY --from=builder /app/.venv /app/.venv\nCOPY PACKAGE/ ./PACKAGE/",
    )


def build_toolchain(ctx: AdviceContext) -> Sequence[Candidate]:
    units = ctx.category_units(Category.BUILD_TOOLCHAIN, above_base=True)
    if not units:
        return ()
    return (
        Candidate(
            id="build-toolchain-at-runtime",
            title=entry("build-toolchain-at-runtime").text("title"),
            units=units,
            evidence=Evidence(paths=top_paths(ctx, units), layers=layers_of(ctx, units)),
            fix=Fix(
                entry("build-toolchain-at-runtime").text("fix"),
                "FROM BASE AS builder\nRUN apt-get update && apt-get install -y --no-install-recommends build-essential\n...\n"
                "FROM BASE AS runtime\nCOPY --from=builder /app/.venv /app/.venv",
            ),
            savings_basis="bytes of files classified build_toolchain above the base",
        ),
    )


def fat_base(ctx: AdviceContext) -> Sequence[Candidate]:
    """What a slimmer base would drop: measured against `--slim-base` when given, else
    estimated from the build-only OS packages the base's package database lists."""
    build_only = sorted(p.name for p in ctx.os_packages if p.in_base and p.build_only)
    fix = Fix(
        entry("fat-base-image").text("fix"),
        "FROM python:X.Y AS builder\n...\nFROM python:X.Y-slim AS runtime",
    )
    if ctx.slim_base is not None:
        return _measured_fat_base(ctx, ctx.slim_base, tuple(build_only), fix)
    units = ctx.final_units(above_base=False, at_paths=ctx.build_paths)
    if not units:
        return ()
    return (
        Candidate(
            id="fat-base-image",
            title=entry("fat-base-image").text("title"),
            units=units,
            evidence=Evidence(
                paths=top_paths(ctx, units), layers=layers_of(ctx, units), packages=tuple(build_only)
            ),
            fix=fix,
            savings_basis="estimated: bytes of the base's build-only OS packages and what only they "
            "depend on (from its package database); a slim variant may differ in other packages too; "
            "--slim-base measures it",
        ),
    )


def _measured_fat_base(
    ctx: AdviceContext, slim: SlimBase, build_only: tuple[str, ...], fix: Fix
) -> Sequence[Candidate]:
    in_base = ctx.final_units(above_base=False)
    units = frozenset(u for u in in_base if ctx.unit_path(u) not in slim.paths)
    if not units:
        return ()
    base_bytes = ctx.bytes_of(in_base)
    details = (
        f"measured against {slim.reference}: this image's base ships {base_bytes} bytes in its final "
        f"files, {slim.reference} {slim.final_bytes} bytes: a net {base_bytes - slim.final_bytes} bytes",
        f"files of this base that {slim.reference} does not have: {ctx.bytes_of(units)} bytes",
    )
    return (
        Candidate(
            id="fat-base-image",
            title=entry("fat-base-image").text("title.measured", slim=slim.reference),
            units=units,
            evidence=Evidence(
                paths=top_paths(ctx, units),
                layers=layers_of(ctx, units),
                packages=build_only,
                details=details,
            ),
            fix=fix,
            savings_basis=f"measured: bytes of this image's base files that --slim-base {slim.reference} "
            "does not have",
        ),
    )

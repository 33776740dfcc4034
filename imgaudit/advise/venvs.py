"""`duplicate-venv`: a second venv of the same distributions ships beside the one the app runs.

`uv sync` run before WORKDIR makes `/.venv` (or one in the directory before), the `uv sync`
after `WORKDIR /app` makes `/app/.venv` from the same project: the image holds both. A venv
is a duplicate when another venv holds every one of its distributions at the same versions
(the development-only ones and the toolchain aside) and it holds at least half of that
other's: a small tool venv that shares one package with the app is not one. Of two venvs
with the same distributions, the one the app runs from stays: the first on PATH, else
VIRTUAL_ENV, else the one in WORKDIR, else the later one.
"""

from __future__ import annotations

from collections.abc import Sequence

from imgaudit.advise.interface import AdviceContext, Candidate, Unit, layers_of, top_paths
from imgaudit.findings.catalogue import entry
from imgaudit.model import EnvironmentKind, Evidence, Fix, PythonEnvironment
from imgaudit.severity import Severity

# Below this, the finding is low: too few bytes to fail a `--fail-on high` pipeline over.
_SMALL = 1 << 20


def duplicate_venvs(ctx: AdviceContext) -> Sequence[Candidate]:
    venvs = [e for e in ctx.environments if e.kind is EnvironmentKind.VENV]
    if len(venvs) < 2:
        return ()
    held = {e.path: _distributions(e) for e in venvs}
    units = {e.path: _units_above_base(ctx, e.path) for e in venvs}
    rank = {
        e.path: (len(held[e.path]), _runs_from(ctx, e.path), _last_layer(ctx, units[e.path])) for e in venvs
    }
    best_first = sorted(venvs, key=lambda e: rank[e.path], reverse=True)
    found: list[Candidate] = []
    redundant: set[str] = set()
    for venv in venvs:
        mine = held[venv.path]
        if not mine or not units[venv.path]:
            continue
        keeper = next(
            (
                other
                for other in best_first
                if other.path != venv.path
                and other.path not in redundant
                and mine <= held[other.path]
                and 2 * len(mine) >= len(held[other.path])
                and rank[other.path] > rank[venv.path]
            ),
            None,
        )
        if keeper is None:
            continue
        redundant.add(venv.path)
        saved = ctx.bytes_of(units[venv.path])
        found.append(
            Candidate(
                id="duplicate-venv",
                title=entry("duplicate-venv").text("title", redundant=venv.path, kept=keeper.path),
                units=units[venv.path],
                evidence=Evidence(
                    paths=top_paths(ctx, units[venv.path]),
                    layers=layers_of(ctx, units[venv.path]),
                    details=(
                        f"{keeper.path} holds every one of its {len(mine)} distributions at the same versions "
                        "(development-only ones and the toolchain aside)",
                    ),
                ),
                fix=Fix(entry("duplicate-venv").text("fix"), entry("duplicate-venv").snippet),
                savings_basis="bytes of the venv whose distributions another venv holds too, in every layer",
                severity=None if saved >= _SMALL else Severity.LOW,
            )
        )
    return found


# What `python -m venv` and virtualenv seed every venv with: no sign of the same project.
_SEEDS = frozenset({"pip", "setuptools", "wheel"})


def _distributions(env: PythonEnvironment) -> frozenset[tuple[str, str]]:
    return frozenset(
        (d.name, d.version)
        for d in env.distributions
        if not d.dev_only and not d.toolchain and d.name not in _SEEDS
    )


def _units_above_base(ctx: AdviceContext, path: str) -> frozenset[Unit]:
    root = path.strip("/")
    final = (u for u in ctx.table.final_under([root]) if ctx.above_base(ctx.unit_layer(u)))
    return frozenset([*final, *ctx.table.wasted_above_under([root])])


def _runs_from(ctx: AdviceContext, path: str) -> int:
    """How surely the app runs from this venv: on PATH (earlier entries surer), VIRTUAL_ENV, in
    WORKDIR; 0 when nothing says."""
    env = ctx.info.env
    entries = [e.rstrip("/") for e in env.get("PATH", "").split(":")]
    if f"{path}/bin" in entries:
        return 3 + len(entries) - entries.index(f"{path}/bin")
    if env.get("VIRTUAL_ENV", "").rstrip("/") == path:
        return 2
    return 1 if path == f"{ctx.info.workdir.rstrip('/')}/.venv" else 0


def _last_layer(ctx: AdviceContext, units: frozenset[Unit]) -> int:
    return max((ctx.unit_layer(u) for u in units), default=-1)

"""`dev-dependencies-installed`: dev-only packages in the runtime image."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from imgaudit.advise.interface import AdviceContext, Candidate, Unit, layers_of, top_paths
from imgaudit.model import Category, Evidence, Fix, Severity

_DIST_INFO_DIR = re.compile(r"/(?P<name>[^/]+?)-(?P<version>[^-/]+)\.(?:dist-info|egg-info)/")


def distributions(ctx: AdviceContext, units: Iterable[Unit]) -> tuple[str, ...]:
    """`name==version` of the distributions whose metadata is among units."""
    found = {
        f"{m['name']}=={m['version']}" for u in units if (m := _DIST_INFO_DIR.search("/" + ctx.unit_path(u)))
    }
    return tuple(sorted(found, key=str.lower))


def dev_dependencies(ctx: AdviceContext) -> Sequence[Candidate]:
    units = ctx.category_units(Category.DEV_PACKAGES)
    if not units:
        return ()
    return (
        Candidate(
            id="dev-dependencies-installed",
            title="Development-only packages are installed in the image",
            severity=Severity.HIGH,
            units=units,
            evidence=Evidence(
                paths=top_paths(ctx, units), layers=layers_of(ctx, units), packages=distributions(ctx, units)
            ),
            fix=Fix(
                "Install only the main dependency group: `poetry install --without dev` "
                "(pip: leave dev requirements out; PEP 735: do not install the dev group).",
                "RUN poetry install --without dev --no-root",
            ),
            savings_basis="bytes of the files of dev-only packages (the project's dev group and what only it needs)",
        ),
    )

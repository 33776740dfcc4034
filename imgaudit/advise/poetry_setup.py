"""`venv-not-in-project`, `unpinned-poetry`: Poetry set-up that makes the other fixes hard
or builds irreproducible. They save no bytes by themselves, and say so."""

from __future__ import annotations

from collections.abc import Sequence

from imgaudit.advise.caches import locations
from imgaudit.advise.facts import (
    POETRY_REQUIREMENT,
    is_pip_install,
    layer_instructions,
    pip_requirements,
    project_facts,
    run_commands,
)
from imgaudit.advise.interface import AdviceContext, Candidate
from imgaudit.classify.context import PathSet
from imgaudit.findings.catalogue import entry
from imgaudit.model import Evidence, Fix


def venv_not_in_project(ctx: AdviceContext) -> Sequence[Candidate]:
    facts = project_facts(ctx.merged, ctx.info, ctx.base_layer_count, ctx.project)
    cached = PathSet(locations(ctx).poetry_virtualenvs)
    venvs = [v for v in facts.venvs if v in cached]
    if not venvs:
        return ()
    layers = tuple(sorted({f.layer for f in ctx.merged.files if f.path == f"{venvs[0]}/pyvenv.cfg"}))
    return (
        Candidate(
            id="venv-not-in-project",
            title=entry("venv-not-in-project").text("title"),
            units=frozenset(),
            evidence=Evidence(paths=tuple("/" + v for v in venvs), layers=layers),
            fix=Fix(entry("venv-not-in-project").text("fix"), "ENV POETRY_VIRTUALENVS_IN_PROJECT=1"),
            savings_basis="none by itself: it lets the cache be deleted and the venv be copied alone",
        ),
    )


def unpinned_poetry(ctx: AdviceContext) -> Sequence[Candidate]:
    unpinned = [
        (index, text)
        for index, text in enumerate(layer_instructions(ctx.layers))
        if ctx.above_base(index) and _installs_unpinned_poetry(text)
    ]
    if not unpinned:
        return ()
    version = project_facts(ctx.merged, ctx.info, ctx.base_layer_count, ctx.project).poetry_version
    pin = f"poetry=={version}" if version else "poetry==X.Y.Z"
    return (
        Candidate(
            id="unpinned-poetry",
            title=entry("unpinned-poetry").text("title"),
            units=frozenset(),
            evidence=Evidence(
                layers=tuple(i for i, _ in unpinned),
                packages=(f"poetry=={version}",) if version else (),
                details=tuple(text for _, text in unpinned),
            ),
            fix=Fix(
                entry("unpinned-poetry").text("fix.version-known" if version else "fix"),
                f"RUN pip install --no-cache-dir {pin}",
            ),
            savings_basis="none: this is about reproducible builds, not size",
        ),
    )


def _installs_unpinned_poetry(text: str) -> bool:
    for words in run_commands(text):
        if is_pip_install(words):
            for requirement in pip_requirements(words):
                match = POETRY_REQUIREMENT.match(requirement)
                if match and not match["spec"].strip():
                    return True
    return False

"""`apt-recommends`: apt installs that pull recommended packages too (from the history)."""

from __future__ import annotations

from collections.abc import Sequence

from imgaudit.advise.facts import layer_instructions, run_commands
from imgaudit.advise.interface import AdviceContext, Candidate
from imgaudit.findings.catalogue import entry
from imgaudit.model import Evidence, Fix


def apt_recommends(ctx: AdviceContext) -> Sequence[Candidate]:
    layers = [
        (i, text)
        for i, text in enumerate(layer_instructions(ctx.layers))
        if ctx.above_base(i) and any(_installs_with_recommends(w) for w in run_commands(text))
    ]
    if not layers:
        return ()
    return (
        Candidate(
            id="apt-recommends",
            title=entry("apt-recommends").text("title"),
            units=frozenset(),
            evidence=Evidence(layers=tuple(i for i, _ in layers), details=tuple(t for _, t in layers)),
            fix=Fix(
                entry("apt-recommends").text("fix"), "RUN apt-get install -y --no-install-recommends PACKAGES"
            ),
            savings_basis="not estimated: the image does not record which packages came in as recommends",
        ),
    )


def _installs_with_recommends(words: list[str]) -> bool:
    if len(words) < 2 or words[0] not in ("apt-get", "apt") or "install" not in words:
        return False
    return "--no-install-recommends" not in words and not any("Install-Recommends=false" in w for w in words)

"""Plain words shared by the human-facing renderers (terminal, Markdown, HTML)."""

from __future__ import annotations

from collections.abc import Sequence

from imgaudit.model import BaseImage, BaseMethod, PlanStep, Report
from imgaudit.report.units import human_bytes, percent

ARTICLE_URL = "https://medium.com/@albertazzir/blazing-fast-python-docker-builds-with-poetry-a78a66f5aed0"
README_SECTION = "The reference practices"
REFERENCE_PRACTICES = (
    "the reference practices: Poetry + Docker multi-stage best practice "
    f'(README, "{README_SECTION}"; {ARTICLE_URL})'
)


def plural(count: int, singular: str, several: str | None = None) -> str:
    """`1 layer`, `2 layers`, `0 rules`."""
    return f"{count} {singular if count == 1 else several or singular + 's'}"


_METHODS = {
    BaseMethod.FLAG: "given with --base",
    BaseMethod.ANNOTATION: "named by the image's OCI annotations",
    BaseMethod.HISTORY: "found from the image history",
    BaseMethod.FIRST_LAYER: "assumed to be the first layer (no history says more)",
    BaseMethod.LOCAL_IMAGE: "matched with a local image",
}


def base_phrase(base: BaseImage) -> str:
    """`base image python:3.11 (3 layers, found from the image history)`."""
    name = f" {base.name}" if base.name else ""
    return f"base image{name}: {plural(base.layer_count, 'layer')}, {_METHODS[base.method]}"


def one_line_fix(text: str) -> str:
    """The fix's first clause: what to do, without the parenthesised asides and alternatives
    that follow (the full text is in `--show fixes`, the JSON, Markdown, SARIF and HTML)."""
    cut = len(text)
    in_code = False
    for position, char in enumerate(text):
        if char == "`":
            in_code = not in_code
        elif not in_code and (text.startswith((" (", "; ", ". "), position)):
            cut = position
            break
    return text[:cut].rstrip(" .;:")


def biggest_step(steps: Sequence[PlanStep]) -> tuple[int, PlanStep] | None:
    """The plan step that saves the most (1-based number, step): the headline's biggest win."""
    ranked = [(n, s) for n, s in enumerate(steps, 1) if s.estimated_savings_bytes > 0]
    return max(ranked, key=lambda item: item[1].estimated_savings_bytes, default=None)


def removable_phrase(report: Report) -> str:
    """The answer in one sentence: how much the plan removes, and its biggest step."""
    plan = report.plan
    if plan is None or not plan.steps or plan.estimated_savings_bytes <= 0:
        return "Nothing to remove: none of the reference practices' fixes applies to this image."
    text = (
        f"{human_bytes(plan.estimated_savings_bytes)} removable "
        f"({percent(plan.estimated_savings_bytes, report.total_bytes)}) → {human_bytes(plan.estimated_final_bytes)}"
    )
    best = biggest_step(plan.steps)
    if best is not None and len(plan.steps) > 1:
        number, step = best
        text += f"; biggest win: step {number}, {step.title} ({human_bytes(step.estimated_savings_bytes)})"
    return text

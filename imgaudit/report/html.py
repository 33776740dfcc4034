"""`--format html=FILE`: one self-contained page (no script, no network, no CDN).

The charts are SVG written here in Python: a treemap of the final filesystem (category, then
Python package where the report knows them) and the plan as a waterfall from today's size to
the size after each step. A charting library would bring JavaScript (and a copy of it per
report, or a CDN the page would need at view time) for two charts whose geometry is fifty
lines; inline SVG also prints, and opens offline and in mail attachments.

Every drawn box carries its bytes in `data-bytes`, so a test can check that the chart adds
up to the report's figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from imgaudit.classify.context import instruction
from imgaudit.model import Category, Report
from imgaudit.report.labels import category_label
from imgaudit.report.units import human_bytes, percent
from imgaudit.report.view import AuditView
from imgaudit.report.words import ARTICLE_URL, README_SECTION, base_phrase, plural, removable_phrase

TREEMAP_WIDTH, TREEMAP_HEIGHT = 960, 420
WATERFALL_WIDTH = 960
CHILDREN_SHOWN = 12
_PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#86bcb6",
)  # fmt: skip
_CATEGORY_COLOURS = {category: _PALETTE[n % len(_PALETTE)] for n, category in enumerate(Category)}


@dataclass(frozen=True, slots=True)
class Box:
    label: str
    bytes: int
    children: tuple[Box, ...] = ()


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float


def tree(report: Report) -> tuple[Box, ...]:
    """Categories of the final filesystem, each split into the Python packages it holds (where
    the report knows them); what no package claims is `other files`, so a category's children
    always add up to the category."""
    packages: dict[Category, list[tuple[str, int]]] = {}
    for env in report.environments:
        for dist in env.distributions:
            category = (
                Category.DEV_PACKAGES
                if dist.dev_only
                else Category.PYTHON_TOOLCHAIN
                if dist.toolchain
                else Category.PYTHON_PACKAGES
            )
            packages.setdefault(category, []).append((f"{dist.name} {dist.version}", dist.bytes))
    boxes = []
    for category, size in sorted(report.categories.items(), key=lambda kv: -kv[1]):
        if size <= 0:
            continue
        children: list[Box] = []
        left = size
        for name, bytes_ in sorted(packages.get(category, ()), key=lambda item: -item[1])[:CHILDREN_SHOWN]:
            if 0 < bytes_ <= left:
                children.append(Box(name, bytes_))
                left -= bytes_
        if children and left:
            children.append(Box("other files", left))
        boxes.append(Box(category_label(category), size, tuple(children)))
    return tuple(boxes)


def squarify(sizes: Sequence[int], area: Rect) -> list[Rect]:
    """Squarified treemap (Bruls, Huizing, van Wijk 2000): rows along the shorter side, each
    row kept while it improves the worst aspect ratio. `sizes` largest first."""
    total = sum(sizes)
    if total <= 0 or area.w <= 0 or area.h <= 0:
        return [Rect(area.x, area.y, 0, 0) for _ in sizes]
    scale = area.w * area.h / total
    rects: list[Rect] = []
    remaining = [s * scale for s in sizes]
    x, y, w, h = area.x, area.y, area.w, area.h
    while remaining:
        side = min(w, h)
        row = [remaining.pop(0)]
        while remaining and _worst([*row, remaining[0]], side) <= _worst(row, side):
            row.append(remaining.pop(0))
        thickness = sum(row) / side
        offset = 0.0
        for value in row:
            length = value / thickness if thickness else 0
            if w >= h:  # a column on the left
                rects.append(Rect(x, y + offset, thickness, length))
            else:  # a row on top
                rects.append(Rect(x + offset, y, length, thickness))
            offset += length
        if w >= h:
            x, w = x + thickness, w - thickness
        else:
            y, h = y + thickness, h - thickness
    return rects


def _worst(row: Sequence[float], side: float) -> float:
    total = sum(row)
    if total <= 0 or side <= 0:
        return float("inf")
    return max(
        max(side * side * r / (total * total), total * total / (side * side * r)) for r in row if r > 0
    )


def _svg_text(x: float, y: float, text: str, width: float, size: int = 12, bold: bool = False) -> str:
    if width < 40:
        return ""
    limit = max(3, int(width / (size * 0.6)))
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    weight = ' font-weight="600"' if bold else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}"{weight}>{escape(shown)}</text>'


def treemap_svg(report: Report) -> str:
    boxes = tree(report)
    area = Rect(0, 0, TREEMAP_WIDTH, TREEMAP_HEIGHT)
    parts = [
        f'<svg class="treemap" viewBox="0 0 {TREEMAP_WIDTH} {TREEMAP_HEIGHT}" role="img" '
        f'aria-label="Final filesystem by category" data-total="{report.final_bytes}">'
    ]
    category_of = {category_label(c): c for c in Category}
    for box, rect in zip(boxes, squarify([b.bytes for b in boxes], area), strict=True):
        colour = _CATEGORY_COLOURS[category_of[box.label]]
        title = f"{box.label}: {human_bytes(box.bytes)} ({percent(box.bytes, report.final_bytes)})"
        parts.append(
            f'<g class="category" data-bytes="{box.bytes}" data-label="{escape(box.label)}">'
            f"<title>{escape(title)}</title>"
            f'<rect x="{rect.x:.2f}" y="{rect.y:.2f}" width="{rect.w:.2f}" height="{rect.h:.2f}" '
            f'fill="{colour}" stroke="#fff" stroke-width="2"/>'
        )
        inner = Rect(rect.x + 2, rect.y + 18, rect.w - 4, rect.h - 20)
        if box.children and inner.w > 30 and inner.h > 20:
            for child, crect in zip(
                box.children, squarify([c.bytes for c in box.children], inner), strict=True
            ):
                parts.append(
                    f'<g class="part" data-bytes="{child.bytes}"><title>{escape(child.label)}: '
                    f"{human_bytes(child.bytes)}</title>"
                    f'<rect x="{crect.x:.2f}" y="{crect.y:.2f}" width="{crect.w:.2f}" height="{crect.h:.2f}" '
                    f'fill="#ffffff" fill-opacity="0.18" stroke="#ffffff" stroke-opacity="0.6"/>'
                    + (
                        _svg_text(crect.x + 3, crect.y + 13, child.label, crect.w - 6, 11)
                        if crect.h > 16
                        else ""
                    )
                    + "</g>"
                )
        if rect.h > 16:
            parts.append(
                _svg_text(
                    rect.x + 4, rect.y + 14, f"{box.label} {human_bytes(box.bytes)}", rect.w - 8, 12, True
                )
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def waterfall_svg(report: Report) -> str:
    """Today's image, each plan step's saving as a floating bar, the image after the plan."""
    plan = report.plan
    steps = plan.steps if plan is not None else ()
    rows: list[tuple[str, int, int, str]] = [("image today", 0, report.total_bytes, "total")]
    before = report.total_bytes
    for number, step in enumerate(steps, 1):
        rows.append((f"{number}. {step.title}", step.estimated_final_bytes, before, "step"))
        before = step.estimated_final_bytes
    if steps:
        rows.append(("after the plan", 0, before, "final"))
    label_width, bar_x, row_height = 430, 440, 30
    scale = (WATERFALL_WIDTH - bar_x - 160) / report.total_bytes if report.total_bytes else 0
    height = row_height * len(rows) + 10
    parts = [f'<svg class="waterfall" viewBox="0 0 {WATERFALL_WIDTH} {height}" role="img" aria-label="Plan">']
    colours = {"total": "#4e79a7", "step": "#59a14f", "final": "#76b7b2"}
    for number, (label, low, high, kind) in enumerate(rows):
        y = 5 + number * row_height
        x, width = bar_x + low * scale, max((high - low) * scale, 1.0)
        figure = f"−{human_bytes(high - low)} → {human_bytes(low)}" if kind == "step" else human_bytes(high)
        parts.append(
            f'<g class="bar {kind}" data-from="{high}" data-to="{low if kind == "step" else high}">'
            + _svg_text(4, y + 19, label, label_width, 13, kind != "step")
            + f'<rect x="{x:.2f}" y="{y + 4}" width="{width:.2f}" height="{row_height - 8}" fill="{colours[kind]}"/>'
            + f'<text x="{x + width + 6:.1f}" y="{y + 19}" font-size="12">{escape(figure)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=num' if i in numeric else ''}>{cell}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _findings(view: AuditView) -> str:
    items = []
    for finding in view.report.findings:
        lines = ", ".join(
            str(line.start) if line.start == line.end else f"{line.start}–{line.end}"
            for line in finding.dockerfile_lines
        )
        where = ""
        if lines:
            file = escape(view.dockerfile.as_posix()) if view.dockerfile is not None else "Dockerfile"
            noun = "lines" if len(finding.dockerfile_lines) > 1 or "–" in lines else "line"
            where = (
                f'<p class="where">{file}, {noun} {escape(lines)}: '
                + "; ".join(f"<code>{escape(line.instruction)}</code>" for line in finding.dockerfile_lines)
                + "</p>"
            )
        saving = human_bytes(finding.estimated_savings_bytes) if finding.estimated_savings_bytes else "–"
        snippet = f"<pre>{escape(finding.fix.dockerfile)}</pre>" if finding.fix.dockerfile else ""
        items.append(
            f'<article class="finding {finding.severity.value}">'
            f"<h3><code>{escape(finding.id)}</code> <span class=sev>{finding.severity.value}</span> "
            f'<span class="saves">{saving}</span></h3>'
            f"<p>{escape(finding.title)}.</p>{where}"
            f"<p><b>Fix:</b> {escape(finding.fix.text)}</p>{snippet}</article>"
        )
    return "".join(items) or "<p>No findings.</p>"


def _layers(report: Report) -> str:
    rows = [
        [
            str(layer.index),
            human_bytes(layer.size_bytes),
            human_bytes(layer.wasted_bytes) if layer.wasted_bytes else "–",
            ("<i>base</i> " if layer.is_base else "")
            + f"<code>{escape(instruction(layer.descriptor.created_by) or layer.descriptor.comment or '(no history)')}</code>",
        ]
        for layer in report.layers
    ]
    return _table(["#", "size", "wasted", "instruction"], rows, numeric=(0, 1, 2))


def _gate(view: AuditView) -> str:
    gate = view.gate
    if gate is None:
        return ""
    rows = [[escape(r.name), escape(r.outcome.value), escape(r.message)] for r in gate.results]
    source = f"<p>Limits from <code>{escape(str(view.limits_from))}</code>.</p>" if view.limits_from else ""
    state = "failed" if gate.failed else "passed"
    return (
        f'<section><h2 class="gate {state}">Gate: {escape(gate.verdict)}</h2>{source}'
        f"{_table(['rule', 'result', 'measured against the limit'], rows)}</section>"
    )


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 12px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:14px;margin:0 0 4px}
.facts{color:#555}.answer{font-size:16px;font-weight:600;color:#1b5e20}
svg{width:100%;height:auto;display:block}svg text{font-family:inherit;fill:#111}
.treemap text{fill:#fff}
table{border-collapse:collapse;width:100%}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap}code{font-size:12px}
.finding{border-left:4px solid #bbb;padding:6px 10px;margin:10px 0;background:#fafafa}
.finding.high{border-color:#e15759}.finding.medium{border-color:#f28e2b}.finding.low{border-color:#4e79a7}
.sev{font-weight:400;color:#666}.saves{float:right}.where{color:#555}
pre{background:#f0f0f0;padding:8px;overflow-x:auto;font-size:12px}
.gate.failed{color:#b71c1c}.gate.passed{color:#1b5e20}
"""


def render(view: AuditView) -> str:
    report = view.report
    info = report.image
    title = f"imgaudit · {info.reference}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="facts">{human_bytes(report.total_bytes)} shipped in {plural(len(report.layers), "layer")} · '
        f"{human_bytes(report.final_bytes)} in the final filesystem · {human_bytes(report.wasted_bytes)} wasted "
        f"({percent(report.wasted_bytes, report.total_bytes)}) · {escape(base_phrase(report.base))}</p>"
        f'<p class="answer">{escape(removable_phrase(report))}</p>'
        f"{_gate(view)}"
        f'<section><h2>Plan: <a href="{ARTICLE_URL}">the reference practices</a> that apply, in order</h2>'
        f"<p class=facts>Poetry + Docker multi-stage best practice (imgaudit's README, “{README_SECTION}”). "
        "Each step saves what the steps before it left.</p>"
        f"{waterfall_svg(report)}</section>"
        "<section><h2>Findings and their fixes</h2>"
        f"{_findings(view)}</section>"
        f"<section><h2>Final filesystem: {human_bytes(report.final_bytes)} by where the bytes come from</h2>"
        f"{treemap_svg(report)}</section>"
        f"<section><h2>Layers</h2>{_layers(report)}</section>"
        "</body></html>\n"
    )

"""The terminal report: the answer first, on one screen (80x24 for a typical image).

Headline (size, what is removable, the biggest win), the plan, the findings with one-line
fixes, the category bar. Everything else (image and base details, layers, wasted paths,
directories, Python environments, OS packages, full fixes) is a section shown with
`--details` or `--show SECTION`. Interactive: the terminal's width, long lines end in `…`;
piped or to a file: plain text, never wrapped or cut (see `outputs.write_console`).
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from imgaudit.classify.context import instruction
from imgaudit.model import Report
from imgaudit.report.gate_console import render_comparison, render_gate
from imgaudit.report.labels import category_label
from imgaudit.report.outputs import one_line
from imgaudit.report.package_tables import package_sections
from imgaudit.report.tables import is_plain, report_table
from imgaudit.report.units import human_bytes, percent
from imgaudit.report.view import AuditView, Section
from imgaudit.report.words import README_SECTION, base_phrase, one_line_fix, plural, removable_phrase

FINDINGS_SHOWN = 8
LAYERS_SHOWN = 30
WASTED_SHOWN = 8
# Category bar: colours on a terminal, distinct characters in plain text (legend below it).
_COLOURS = ("blue", "magenta", "yellow", "cyan", "green", "red", "bright_blue", "bright_magenta")
_GLYPHS = "#=+*%@&$"
_SMALL = 0.02  # categories under 2% are summed as "rest": the legend stays within two lines


def category_bar(report: Report, plain: bool, width: int) -> RenderableType:
    """The final filesystem as one bar, a segment per category, with its legend."""
    ranked = [(c, size) for c, size in sorted(report.categories.items(), key=lambda kv: -kv[1]) if size]
    whole = report.final_bytes
    bar, legend = Text(), Text()
    shown = [(c, s) for c, s in ranked if whole and s / whole >= _SMALL][: len(_GLYPHS)]
    drawn = 0  # cells so far: rounding the running total keeps the bar within `width`
    for number, (category, size) in enumerate(shown):
        cells = round((drawn + size) / whole * width) - round(drawn / whole * width)
        drawn += size
        if plain:
            bar.append(_GLYPHS[number] * cells)
            legend.append(f"{_GLYPHS[number]} ")
        else:
            bar.append("█" * cells, style=_COLOURS[number])
            legend.append("█ ", style=_COLOURS[number])
        legend.append(f"{category_label(category)} {human_bytes(size)} ({percent(size, whole)})")
        legend.append(" · ")
    listed = {category for category, _ in shown}
    rest = sum(size for category, size in ranked if category not in listed)
    if rest:
        legend.append(f"rest {human_bytes(rest)}")
    elif shown:
        legend.right_crop(3)  # the last " · "
    else:
        legend.append("empty")
    title = Text(f"Final filesystem ({human_bytes(whole)}): ", style="bold")
    return Group(bar, title + legend)


def _headline(report: Report, plain: bool) -> Text:
    info = report.image
    platform = "/".join(p for p in (info.os, info.architecture, info.variant) if p)
    lines = Text()
    lines.append(f"imgaudit · {info.reference}", style="" if plain else "bold")
    if platform:
        lines.append(f" ({platform})", style="dim")
    lines.append(
        f"\n{human_bytes(report.total_bytes)} in {plural(len(report.layers), 'layer')} · "
        f"{human_bytes(report.final_bytes)} in the final filesystem · "
    )
    lines.append(
        f"{human_bytes(report.wasted_bytes)} wasted ({percent(report.wasted_bytes, report.total_bytes)})",
        style="red" if report.wasted_bytes and not plain else "",
    )
    lines.append("\n")
    lines.append(removable_phrase(report), style="" if plain else "bold green")
    return lines


def _gate_line(view: AuditView, width: int) -> Text | None:
    gate = view.gate
    if gate is None:
        return None
    source = f" (limits from {view.limits_from})" if view.limits_from is not None else ""
    line = Text("Gate: ", style="bold")
    line.append(gate.verdict, style="bold red" if gate.failed else "bold green")
    line.append(source)
    if gate.failed:
        line.append(": " + "; ".join(f"{r.name}: {r.message}" for r in gate.failed))
    return _fit(line, width)  # every rule in full: the gate table at the end


def _fit(text: Text, width: int) -> Text:
    """One line of at most `width` cells, ending in `…` when cut (never when piped: the
    width is then unbounded)."""
    text.no_wrap = True
    if text.cell_len > width:
        text.truncate(max(width, 1), overflow="ellipsis")
    return text


def _plan(report: Report, width: int) -> RenderableType | None:
    plan = report.plan
    if plan is None or not plan.steps:
        return None
    rows = [
        (
            f"{number:>2}",
            step.title,
            human_bytes(step.estimated_savings_bytes) if step.estimated_savings_bytes else "-",
            human_bytes(step.estimated_final_bytes),
        )
        for number, step in enumerate(plan.steps, 1)
    ]
    title = "Plan: the reference practices¹ that apply, in order"
    saves = max(8, *(len(r[2]) for r in rows))  # `112 Bytes` is nine cells
    room = max(12, min(width - saves - 16, max(len(title), *(len(r[1]) for r in rows))))
    lines = [
        Text.assemble(
            ("   ", ""),
            (title.ljust(room)[:room], "bold"),
            (f" {'saves':>{saves}} {'image after':>11}", "dim"),
        )
    ]
    for number, change, saved, after in rows:
        line = _fit(Text(change), room)
        line.pad_right(room - line.cell_len)
        lines.append(Text(f"{number} ") + line + Text(f" {saved:>{saves}} {after:>11}"))
    return Group(*lines)


def _findings(report: Report, plain: bool, width: int) -> RenderableType | None:
    if not report.findings:
        return None
    step_of = {
        i: n for n, step in enumerate(report.plan.steps if report.plan else (), 1) for i in step.finding_ids
    }
    lines: list[RenderableType] = [
        Text("Findings and their fixes (what each saves on its own)", style="bold")
    ]
    shown = report.findings[:FINDINGS_SHOWN]
    savings = [human_bytes(f.estimated_savings_bytes) if f.estimated_savings_bytes else "-" for f in shown]
    column = max(8, *(len(saved) for saved in savings))
    for finding, saved in zip(shown, savings, strict=True):
        where = ", ".join(str(line.start) for line in finding.dockerfile_lines)
        step = step_of.get(finding.id)
        about = ", ".join(
            part
            for part in (
                finding.severity.value,
                f"step {step}" if step else "",
                f"line {where}" if where else "",
            )
            if part
        )
        headline = Text(f"{saved:>{column}} ")
        headline.append(finding.id, style="" if plain else "bold")
        headline.append(f" ({about}): ", style="dim")
        headline.append(finding.title)
        lines.append(_fit(headline, width))
        indent = Text(" " * (column + 1) + "fix: ", style="dim")
        lines.append(_fit(indent + Text(one_line_fix(finding.fix.text)), width))
    if hidden := report.findings[FINDINGS_SHOWN:]:
        lines.append(Text(f"… {plural(len(hidden), 'more finding')}: --show fixes", style="dim"))
    return Group(*lines)


def _footer(view: AuditView) -> Text:
    footer = Text(f"¹ Poetry + Docker multi-stage best practice: README, “{README_SECTION}”.", style="dim")
    missing = [s.value for s in Section if s not in view.sections]
    if missing:
        footer.append(f"\nMore: --details, or --show {'|'.join(missing)}", style="dim")
    return footer


def _image(report: Report) -> Text:
    info = report.image
    text = Text("Image", style="bold")
    text.append(f"\n{base_phrase(report.base)}")
    text.append(f"\nsource: {info.origin.kind} {info.origin.location}")
    if report.pull_bytes is not None:
        text.append(f" · a pull transfers {human_bytes(report.pull_bytes)}")
    if info.image_id:
        text.append(f"\nid: {info.image_id}")
    return text


def _layers(report: Report, plain: bool) -> Table:
    table = report_table("Layers", plain)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("wasted", justify="right", no_wrap=True)
    # The one column that may give way on a narrow terminal; piped output is never cut.
    table.add_column("instruction", overflow="ellipsis", no_wrap=True)
    for layer in report.layers[-LAYERS_SHOWN:]:
        step = instruction(layer.descriptor.created_by) or layer.descriptor.comment or "(no history)"
        marker = "base " if layer.is_base else ""
        wasted = human_bytes(layer.wasted_bytes) if layer.wasted_bytes else "-"
        table.add_row(
            str(layer.index),
            human_bytes(layer.size_bytes),
            percent(layer.size_bytes, report.total_bytes),
            Text(wasted, style="red" if layer.wasted_bytes and not plain else ""),
            Text(marker, style="dim") + Text(step),
        )
    return table


def _wasted(report: Report, plain: bool) -> Table | None:
    if not report.wasted:
        return None
    table = report_table("Wasted: shipped, but deleted or overwritten later", plain)
    table.add_column("path", overflow="fold")
    table.add_column("size", justify="right")
    table.add_column("shipped by → removed by", no_wrap=True)
    for item in report.wasted[:WASTED_SHOWN]:
        table.add_row(
            one_line(item.path),
            human_bytes(item.bytes),
            f"layer {item.shipped_by} → {item.removed_by} ({item.removal})",
        )
    return table


def _directories(report: Report, plain: bool) -> Table:
    table = report_table("Largest directories of the final filesystem", plain)
    table.add_column("directory", overflow="fold")
    table.add_column("size", justify="right")
    table.add_column("share", justify="right")
    for directory in report.largest_directories:
        table.add_row(
            one_line(directory.path),
            human_bytes(directory.bytes),
            percent(directory.bytes, report.final_bytes),
        )
    return table


def _fixes(report: Report) -> RenderableType:
    parts: list[RenderableType] = [Text("Fixes", style="bold")]
    for finding in report.findings:
        lines = ", ".join(
            str(line.start) if line.start == line.end else f"{line.start}-{line.end}"
            for line in finding.dockerfile_lines
        )
        parts.append(
            Text(f"{finding.id}{f' (Dockerfile lines {lines})' if lines else ''}: {finding.fix.text}")
        )
        if finding.fix.dockerfile:
            parts.append(
                Text("    " + finding.fix.dockerfile.rstrip("\n").replace("\n", "\n    "), style="cyan")
            )
    return Group(*parts)


def _details(view: AuditView, plain: bool) -> list[RenderableType]:
    report, chosen = view.report, view.sections
    parts: list[RenderableType] = []
    if Section.IMAGE in chosen:
        parts.append(_image(report))
    if Section.FIXES in chosen and report.findings:
        parts.append(_fixes(report))
    if Section.LAYERS in chosen:
        parts.append(_layers(report, plain))
    if Section.WASTED in chosen and (wasted := _wasted(report, plain)) is not None:
        parts.append(wasted)
    if Section.DIRECTORIES in chosen:
        parts.append(_directories(report, plain))
    wanted = {"python"} if Section.PYTHON in chosen else set()
    if Section.PACKAGES in chosen:
        wanted.add("os")
    parts.extend(package_sections(report, plain, wanted))
    return parts


def paint(view: AuditView, console: Console) -> None:
    plain = is_plain(console)
    report = view.report
    width = console.width
    parts: list[RenderableType | None] = [
        _headline(report, plain),
        _gate_line(view, width),
        _plan(report, width),
        _findings(report, plain, width),
        category_bar(report, plain, min(width, 80)),
        _footer(view),
        *_details(view, plain),
    ]
    parts.extend(Text(f"warning: {warning}", style="yellow") for warning in report.warnings[:10])
    console.print(Group(*(p for p in parts if p is not None)))
    if view.comparison is not None:
        render_comparison(view.comparison, console)
    if view.gate is not None:
        render_gate(view.gate, console)


def render(view: AuditView) -> Callable[[Console], None]:
    return lambda console: paint(view, console)

"""The one-screen terminal report (rich; plain text when not a TTY or with NO_COLOR)."""

from __future__ import annotations

from collections.abc import Collection

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from imgaudit.classify.context import instruction
from imgaudit.model import Category, Report
from imgaudit.report.advice import plan_renderable
from imgaudit.report.package_tables import package_sections
from imgaudit.report.tables import is_plain, report_table
from imgaudit.report.units import human_bytes, percent

BAR_WIDTH = 24
LAYERS_SHOWN = 30
WASTED_SHOWN = 8
_CATEGORY_LABELS: dict[Category, str] = {
    Category.BASE_IMAGE: "base image",
    Category.POETRY_CACHE: "Poetry cache",
    Category.PIP_CACHE: "pip cache",
    Category.VIRTUALENV_SEED_CACHE: "virtualenv seed cache",
    Category.APT_CACHE: "apt cache",
    Category.DEV_PACKAGES: "dev-only packages",
    Category.PYTHON_TOOLCHAIN: "Python toolchain (pip, Poetry, uv, ...)",
    Category.BUILD_TOOLCHAIN: "build toolchain",
    Category.PYTHON_PACKAGES: "Python packages",
    Category.APP: "app (COPY/ADD)",
    Category.OTHER: "other",
    Category.UV_CACHE: "uv cache",
    Category.PDM_CACHE: "PDM cache",
    Category.PIPENV_CACHE: "Pipenv cache",
}


def category_label(category: Category) -> str:
    return _CATEGORY_LABELS[category]


def _bar(share: float, plain: bool) -> str:
    filled = round(share * BAR_WIDTH)
    if plain:
        return "#" * filled + "." * (BAR_WIDTH - filled)
    return "█" * filled + "░" * (BAR_WIDTH - filled)


def _header(report: Report) -> RenderableType:
    info = report.image
    platform = "/".join(p for p in (info.os, info.architecture, info.variant) if p)
    lines = Text()
    lines.append(f"imgaudit · {info.reference}", style="bold")
    if platform:
        lines.append(f"  ({platform})", style="dim")
    lines.append("\n")
    lines.append(
        f"{human_bytes(report.final_bytes)} in the final filesystem · "
        f"{human_bytes(report.total_bytes)} shipped in {len(report.layers)} layers · "
    )
    wasted_style = "bold red" if report.wasted_bytes else ""
    lines.append(
        f"{human_bytes(report.wasted_bytes)} wasted ({percent(report.wasted_bytes, report.total_bytes)})",
        style=wasted_style,
    )
    base = report.base
    base_label = f" {base.name}" if base.name else ""
    lines.append(
        f"\nbase image{base_label}: {base.layer_count} layer(s), decided by {base.method.value} · "
        f"source: {info.origin.kind} {info.origin.location}"
        + (f" · a pull transfers {human_bytes(report.pull_bytes)}" if report.pull_bytes is not None else ""),
        style="dim",
    )
    return lines


def _categories(report: Report, plain: bool) -> Table:
    table = report_table("Where the bytes of the final filesystem come from", plain)
    table.add_column("category")
    table.add_column("size", justify="right")
    table.add_column("share", justify="right")
    table.add_column("", no_wrap=True)
    ranked = sorted(report.categories.items(), key=lambda kv: -kv[1])
    for category, size in ranked:
        if not size:
            continue
        share = size / report.final_bytes if report.final_bytes else 0.0
        table.add_row(
            category_label(category), human_bytes(size), percent(size, report.final_bytes), _bar(share, plain)
        )
    return table


def _layers(report: Report, plain: bool, width: int) -> Table:
    table = report_table("Layers", plain)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("wasted", justify="right", no_wrap=True)
    # Rich squeezes every column to fit; the instruction is the one that may give way.
    table.add_column("instruction", overflow="ellipsis", no_wrap=True, max_width=max(20, width - 48))
    for layer in report.layers[-LAYERS_SHOWN:]:
        step = instruction(layer.descriptor.created_by) or layer.descriptor.comment or "(no history)"
        marker = "base " if layer.is_base else ""
        wasted = human_bytes(layer.wasted_bytes) if layer.wasted_bytes else "-"
        table.add_row(
            str(layer.index),
            human_bytes(layer.size_bytes),
            percent(layer.size_bytes, report.total_bytes),
            Text(wasted, style="red" if layer.wasted_bytes else ""),
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
            item.path,
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
            directory.path, human_bytes(directory.bytes), percent(directory.bytes, report.final_bytes)
        )
    return table


def render(report: Report, console: Console, packages: Collection[str] = ()) -> None:
    plain = is_plain(console)
    parts: list[RenderableType] = [
        _header(report),
        _categories(report, plain),
        _layers(report, plain, console.width),
    ]
    parts.insert(1, plan_renderable(report, plain))  # what to change leads, before where the bytes are
    wasted = _wasted(report, plain)
    if wasted is not None:
        parts.append(wasted)
    parts.append(_directories(report, plain))
    parts.extend(package_sections(report, plain, packages))
    parts.extend(Text(f"warning: {warning}", style="yellow") for warning in report.warnings[:10])
    console.print(Group(*parts))

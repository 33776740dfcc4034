"""Terminal sections for Python environments, dev-only packages and OS packages."""

from __future__ import annotations

import re
from collections.abc import Collection

from rich.console import RenderableType
from rich.table import Table

from imgaudit.model import Distribution, PythonEnvironment, Report
from imgaudit.report.outputs import one_line
from imgaudit.report.tables import report_table
from imgaudit.report.units import human_bytes

DISTRIBUTIONS_SHOWN = 5
OS_PACKAGES_SHOWN = 40
PACKAGES_OS = "os"
PACKAGES_PYTHON = "python"
_DECLARED = re.compile(r"^dev dependency \((?P<group>[^)]+)\)$")


def _why(reason: str | None) -> str:
    """`dev dependency (dev)` reads as a stutter: say where the project declares it."""
    if reason is None:
        return ""
    declared = _DECLARED.match(reason)
    return f"declared in the {declared.group('group')} group" if declared else reason


def _flag(dist: Distribution) -> str:
    return "dev-only" if dist.dev_only else "toolchain" if dist.toolchain else ""


def _environments(environments: Collection[PythonEnvironment], plain: bool) -> Table:
    table = report_table("Python environments (biggest distributions)", plain)
    table.add_column("environment / distribution", overflow="fold")
    table.add_column("size", justify="right")
    table.add_column("", no_wrap=True)
    for env in sorted(environments, key=lambda e: -e.bytes):
        python = f" python {env.python}" if env.python else ""
        table.add_row(
            f"{one_line(env.path)} ({env.kind.value}{python})", human_bytes(env.bytes), "", style="bold"
        )
        for dist in env.distributions[:DISTRIBUTIONS_SHOWN]:
            table.add_row(f"  {dist.name} {dist.version}", human_bytes(dist.bytes), _flag(dist))
        if hidden := env.distributions[DISTRIBUTIONS_SHOWN:]:
            table.add_row(f"  … {len(hidden)} more", human_bytes(sum(d.bytes for d in hidden)), "")
    return table


def _dev_only(report: Report, plain: bool) -> Table | None:
    dev = [d for env in report.environments for d in env.distributions if d.dev_only]
    if report.dev_dependencies is None or not dev:
        return None
    source = report.dev_dependencies
    where = f" in {source.project}" if source.project else ""
    title = f"Dev-only packages (from {source.source.value}{where}, confidence {source.confidence.value})"
    table = report_table(title, plain, min_width=len(title))
    table.add_column("package")
    table.add_column("size", justify="right")
    table.add_column("why", overflow="fold")
    for dist in sorted(dev, key=lambda d: (-d.bytes, d.name)):
        table.add_row(f"{dist.name} {dist.version}", human_bytes(dist.bytes), _why(dist.reason))
    return table


def _os_packages(report: Report, plain: bool) -> Table:
    table = report_table("OS packages (biggest first)", plain)
    table.add_column("package")
    table.add_column("version", overflow="fold")
    table.add_column("size", justify="right")
    table.add_column("layer", justify="right")
    table.add_column("", no_wrap=True)
    for package in report.os_packages[:OS_PACKAGES_SHOWN]:
        notes = ", ".join(
            n for n, on in (("base", package.in_base), ("build-only", package.build_only)) if on
        )
        layer = "-" if package.layer is None else str(package.layer)
        table.add_row(package.name, package.version, human_bytes(package.bytes), layer, notes)
    return table


def package_sections(report: Report, plain: bool, packages: Collection[str] = ()) -> list[RenderableType]:
    """Environments and dev-only packages (`python`), OS packages (`os`), as asked."""
    parts: list[RenderableType] = []
    if PACKAGES_PYTHON in packages and report.environments:
        parts.append(_environments(report.environments, plain))
    if PACKAGES_PYTHON in packages and (dev := _dev_only(report, plain)) is not None:
        parts.append(dev)
    if PACKAGES_OS in packages and report.os_packages:
        parts.append(_os_packages(report, plain))
    return parts

"""The one input every audit renderer reads: the `Report`, and the gate's result and the
baseline comparison when there are any. Renderers never parse the JSON back."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the CLI reads `Section` for its options at start-up
    from imgaudit.diff import Comparison
    from imgaudit.gate_result import GateResult
    from imgaudit.model import Report


class Section(StrEnum):
    """Terminal sections behind `--details` (all) or `--show SECTION` (one, repeatable)."""

    IMAGE = "image"  # source, base image, platform
    LAYERS = "layers"
    WASTED = "wasted"
    DIRECTORIES = "directories"
    PYTHON = "python"  # environments and dev-only packages
    PACKAGES = "packages"  # OS packages
    FIXES = "fixes"  # each finding's Dockerfile snippet


@dataclass(frozen=True, slots=True)
class AuditView:
    report: Report
    gate: GateResult | None = None  # None: no limit configured, so no verdict to show
    comparison: Comparison | None = None  # with --baseline
    limits_from: Path | None = None  # the config file the limits (or ignores) came from
    dockerfile: Path | None = None  # --dockerfile: where findings' line numbers point
    sections: frozenset[Section] = frozenset()  # terminal details asked for

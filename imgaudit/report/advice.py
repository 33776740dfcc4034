"""The advisor's part of the reports: findings and the plan (JSON, terminal)."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from imgaudit.model import Finding, Plan, Report
from imgaudit.report.tables import report_table
from imgaudit.report.units import human_bytes, percent

FINDINGS_SHOWN = 12


def advice_to_dict(report: Report) -> dict[str, Any]:
    return {
        "findings": [_finding(f) for f in report.findings],
        "plan": _plan(report.plan) if report.plan is not None else None,
    }


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.id,
        "title": finding.title,
        "severity": finding.severity.value,
        "estimated_savings_bytes": finding.estimated_savings_bytes,
        "estimated_savings_compressed_bytes": finding.estimated_savings_compressed_bytes,
        "share": finding.share,
        "savings_basis": finding.savings_basis,
        "evidence": {
            "paths": list(finding.evidence.paths),
            "layers": list(finding.evidence.layers),
            "packages": list(finding.evidence.packages),
            "details": list(finding.evidence.details),
            "install_layout": finding.evidence.install_layout,
        },
        "fix": {"text": finding.fix.text, "dockerfile": finding.fix.dockerfile},
        "dockerfile_lines": [
            {"start": line.start, "end": line.end, "instruction": line.instruction}
            for line in finding.dockerfile_lines
        ],
    }


def _plan(plan: Plan) -> dict[str, Any]:
    return {
        "basis": plan.basis,
        "steps": [
            {
                "title": step.title,
                "finding_ids": list(step.finding_ids),
                "estimated_savings_bytes": step.estimated_savings_bytes,
                "estimated_savings_compressed_bytes": step.estimated_savings_compressed_bytes,
                "estimated_final_bytes": step.estimated_final_bytes,
            }
            for step in plan.steps
        ],
        "estimated_savings_bytes": plan.estimated_savings_bytes,
        "estimated_savings_compressed_bytes": plan.estimated_savings_compressed_bytes,
        "estimated_final_bytes": plan.estimated_final_bytes,
    }


def plan_renderable(report: Report, plain: bool) -> RenderableType:
    """What to change, in which order, what each step saves: the report's opening."""
    plan = report.plan
    if plan is None or not plan.steps:
        return Text(
            "Plan: nothing to change: none of the article's fixes (not --ignore'd) applies to this image."
        )
    table = report_table("Plan: what to change, in this order (bytes the image ships)", plain)
    lines = _lines_by_id(report.findings)
    with_lines = any(lines.values())
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("change")
    table.add_column("saves", justify="right", no_wrap=True)
    table.add_column("image after", justify="right", no_wrap=True)
    if with_lines:
        table.add_column("Dockerfile lines", no_wrap=True)
    for number, step in enumerate(plan.steps, 1):
        saved = human_bytes(step.estimated_savings_bytes) if step.estimated_savings_bytes else "-"
        row: list[str | Text] = [
            str(number),
            Text(step.title),
            saved,
            human_bytes(step.estimated_final_bytes),
        ]
        if with_lines:
            where = sorted({line for i in step.finding_ids for line in lines.get(i, ())})
            row.append(",".join(str(n) for n in where[:6]))
        table.add_row(*row)
    total = Text(
        f"total: {human_bytes(plan.estimated_savings_bytes)} saved "
        f"({percent(plan.estimated_savings_bytes, report.total_bytes)} of {human_bytes(report.total_bytes)} shipped)"
        f" → {human_bytes(plan.estimated_final_bytes)}",
        style="bold",
    )
    if plan.estimated_savings_compressed_bytes is not None:
        total.append(
            f" · compressed: ~{human_bytes(plan.estimated_savings_compressed_bytes)} saved", style=""
        )
    return Group(table, total, _findings(report, plain))


def _lines_by_id(findings: tuple[Finding, ...]) -> dict[str, set[int]]:
    lines: dict[str, set[int]] = {}
    for finding in findings:
        lines.setdefault(finding.id, set()).update(line.start for line in finding.dockerfile_lines)
    return lines


def _findings(report: Report, plain: bool) -> RenderableType:
    """One entry per finding; the fixes' text and Dockerfile snippets are in the JSON report,
    where they have room."""
    step_of = {
        i: n for n, step in enumerate(report.plan.steps if report.plan else (), 1) for i in step.finding_ids
    }
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", no_wrap=True)  # saves
    table.add_column(no_wrap=True)  # id
    table.add_column(overflow="fold")  # severity, plan step, what
    for finding in report.findings[:FINDINGS_SHOWN]:
        saved = human_bytes(finding.estimated_savings_bytes) if finding.estimated_savings_bytes else "-"
        where = ", ".join(str(line.start) for line in finding.dockerfile_lines)
        step = step_of.get(finding.id)
        detail = Text()
        detail.append(f"{finding.severity.value}{f', plan step {step}' if step else ''}: ", style="dim")
        detail.append(f"{finding.title}{f' (Dockerfile lines {where})' if where else ''}")
        table.add_row(saved, Text(finding.id, style="" if plain else "bold"), detail)
    hint = Text(
        "Fixes with Dockerfile snippets: --format json · a multi-stage Dockerfile: imgaudit fix",
        style="dim",
    )
    return Group(Text("Findings (what each saves on its own)", style="" if plain else "bold"), table, hint)

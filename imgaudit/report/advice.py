"""The advisor's part of the JSON report: findings and the plan."""

from __future__ import annotations

from typing import Any

from imgaudit.model import Finding, Plan, Report


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

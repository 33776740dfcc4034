"""The formats of `imgaudit audit` and `imgaudit diff`, registered in one place.

`imgaudit lint` registers its own (`FormatRegistry[LintResult]`) with the same machinery and
the same SARIF builder (`report/sarif.py`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from imgaudit.report.formats import Format, FormatRegistry, Paint, lazy

if TYPE_CHECKING:  # the renderers load when a format is used, not for `--help`
    from imgaudit.diff import Comparison
    from imgaudit.report.view import AuditView


def report_document(view: AuditView) -> dict[str, Any]:
    """The JSON report with the gate (every report has the section: an empty gate passes) and,
    against a baseline, the comparison."""
    from imgaudit.gate_result import GateResult, gate_to_dict
    from imgaudit.report import json as json_report

    full = json_report.to_dict(view.report)
    full["gate"] = gate_to_dict(view.gate or GateResult(()))
    full["gate"]["config"] = str(view.limits_from) if view.limits_from is not None else None
    if view.comparison is not None:
        from imgaudit.diff import to_dict as comparison_to_dict

        full["comparison"] = comparison_to_dict(view.comparison)
    return full


def _json(view: AuditView) -> str:
    from imgaudit.report import json as json_report

    return json_report.render_document(report_document(view))


def _sarif(view: AuditView) -> str:
    from imgaudit.report.sarif import audit_sarif

    return json.dumps(audit_sarif(view.report, view.dockerfile), indent=2) + "\n"


AUDIT_FORMATS: FormatRegistry[AuditView] = FormatRegistry(
    "audit",
    [
        Format("terminal", "(default) the one-screen report", lazy("imgaudit.report.terminal", "render")),
        Format("json", "the versioned report with its gate section", _json),
        Format(
            "markdown",
            "a pull-request comment: plan, fixes, gate",
            lazy("imgaudit.report.markdown", "render"),
        ),
        Format(
            "github",
            "workflow annotations at the Dockerfile's lines (+ the comment in $GITHUB_STEP_SUMMARY)",
            lazy("imgaudit.report.github", "render"),
            after=lazy("imgaudit.report.github", "write_step_summary"),
        ),
        Format(
            "junit",
            "one test case per rule (per finding with --fail-on)",
            lazy("imgaudit.report.junit", "render"),
        ),
        Format("sarif", "SARIF 2.1.0 for code scanning (GitHub, GitLab)", _sarif),
        Format(
            "html",
            "one self-contained page with charts; needs a file: html=report.html",
            lazy("imgaudit.report.html", "render"),
            needs_file=True,
        ),
    ],
)


def _diff_terminal(comparison: Comparison) -> Paint:
    from imgaudit.report.gate_console import render_comparison

    return lambda console: render_comparison(comparison, console)


def _diff_json(comparison: Comparison) -> str:
    from imgaudit.diff import to_dict as comparison_to_dict
    from imgaudit.report import json as json_report

    return json_report.render_document({"schema": "imgaudit/diff/v1", **comparison_to_dict(comparison)})


DIFF_FORMATS: FormatRegistry[Comparison] = FormatRegistry(
    "diff",
    [
        Format("terminal", "(default) tables", _diff_terminal),
        Format("json", "the comparison (schema imgaudit/diff/v1)", _diff_json),
        Format("markdown", "a pull-request comment", lazy("imgaudit.report.markdown", "render_comparison")),
    ],
)

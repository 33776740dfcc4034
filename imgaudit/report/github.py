"""`--format github`: GitHub Actions workflow commands, one annotation per failed or skipped
rule and per finding; with `--dockerfile`, a finding's annotation names the file and its lines
(`file=`, `line=`, `endLine=`), so it shows on the pull request's diff. The job summary is the
Markdown comment (see `markdown.py`), appended to `$GITHUB_STEP_SUMMARY`.

Escaping follows the Actions runner (actions/toolkit `command.ts`): in the message `%`, CR and
LF are percent-encoded; in a property value `:` and `,` are too, since they delimit
properties. Unescaped, a newline in a message would end the command and let the rest of the
text be read as a new one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from imgaudit.gate_result import Outcome
from imgaudit.model import Finding, Severity
from imgaudit.report import markdown
from imgaudit.report.outputs import append_text
from imgaudit.report.units import human_bytes
from imgaudit.report.view import AuditView

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
FINDINGS_ANNOTATED = 10


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, properties: Mapping[str, str] | None = None) -> str:
    props = ",".join(f"{key}={escape_property(value)}" for key, value in (properties or {}).items())
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def _finding(finding: Finding, dockerfile: Path | None) -> list[str]:
    """One annotation per Dockerfile instruction the finding names (so each shows at its own
    lines of the diff), or one for the image when there is no Dockerfile to point at."""
    message = finding.title
    if finding.estimated_savings_bytes:
        message += f": about {human_bytes(finding.estimated_savings_bytes)} removable"
    message += f". Fix: {finding.fix.text}"
    level = "notice" if finding.severity in (Severity.LOW, Severity.INFO) else "warning"
    title = {"title": f"imgaudit: {finding.id}"}
    if dockerfile is None or not finding.dockerfile_lines:
        return [command(level, message, title)]
    return [
        command(
            level,
            message,
            {
                "file": dockerfile.as_posix(),
                "line": str(line.start),
                "endLine": str(max(line.end, line.start)),
                **title,
            },
        )
        for line in finding.dockerfile_lines
    ]


def render(view: AuditView) -> str:
    report, gate = view.report, view.gate
    lines = []
    for rule in gate.results if gate is not None else ():
        if rule.outcome is Outcome.FAILED:
            lines.append(command("error", rule.message, {"title": f"imgaudit: {rule.name} failed"}))
        elif rule.outcome is Outcome.SKIPPED:
            lines.append(command("warning", rule.message, {"title": f"imgaudit: {rule.name} skipped"}))
    for finding in report.findings[:FINDINGS_ANNOTATED]:
        lines.extend(_finding(finding, view.dockerfile))
    if view.comparison is not None:
        total = view.comparison.total
        sign = "+" if total.delta >= 0 else "-"
        lines.append(
            command(
                "notice",
                f"{report.image.reference}: {sign}{human_bytes(abs(total.delta))} since the baseline "
                f"({human_bytes(total.before or 0)} -> {human_bytes(total.after or 0)})",
                {"title": "imgaudit: size change"},
            )
        )
    if gate is not None:
        lines.append(command("notice", f"{report.image.reference}: {gate.verdict}", {"title": "imgaudit"}))
    return "\n".join(lines) + "\n"


def write_step_summary(view: AuditView) -> None:
    """In a GitHub Actions job: the Markdown comment also becomes the job's summary."""
    summary = os.environ.get(STEP_SUMMARY)
    if summary:
        append_text(Path(summary), markdown.render(view))

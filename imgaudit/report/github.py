"""`--format github`: GitHub Actions workflow commands, one annotation per failed or skipped
rule and per finding. The job summary is the Markdown comment (see `markdown.py`); the CLI
appends it to `$GITHUB_STEP_SUMMARY`.

Escaping follows the Actions runner (actions/toolkit `command.ts`): in the message `%`, CR and
LF are percent-encoded; in a property value `:` and `,` are too, since they delimit
properties. Unescaped, a newline in a message would end the command and let the rest of the
text be read as a new one.
"""

from __future__ import annotations

from collections.abc import Mapping

from imgaudit.gate import CiReport
from imgaudit.gate.rules import Outcome
from imgaudit.report.units import human_bytes

FINDINGS_ANNOTATED = 10


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, properties: Mapping[str, str] | None = None) -> str:
    props = ",".join(f"{key}={escape_property(value)}" for key, value in (properties or {}).items())
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def render(ci: CiReport) -> str:
    lines = []
    for rule in ci.gate.results:
        if rule.outcome is Outcome.FAILED:
            lines.append(command("error", rule.message, {"title": f"imgaudit: {rule.name} failed"}))
        elif rule.outcome is Outcome.SKIPPED:
            lines.append(command("warning", rule.message, {"title": f"imgaudit: {rule.name} skipped"}))
    findings = sorted(ci.figures.findings or (), key=lambda f: (-f.savings_bytes, f.id))
    lines.extend(
        command(
            "warning",
            finding.title
            + (f": about {human_bytes(finding.savings_bytes)} removable" if finding.savings_bytes else ""),
            {"title": f"imgaudit: {finding.id}"},
        )
        for finding in findings[:FINDINGS_ANNOTATED]
    )
    if ci.comparison is not None:
        total = ci.comparison.total
        sign = "+" if total.delta >= 0 else "-"
        lines.append(
            command(
                "notice",
                f"{ci.figures.reference}: {sign}{human_bytes(abs(total.delta))} since the baseline "
                f"({human_bytes(total.before or 0)} -> {human_bytes(total.after or 0)})",
                {"title": "imgaudit: size change"},
            )
        )
    lines.append(command("notice", f"{ci.figures.reference}: {ci.gate.verdict}", {"title": "imgaudit"}))
    return "\n".join(lines) + "\n"

"""SARIF 2.1.0 (OASIS) for code-scanning tools: GitHub code scanning, GitLab, Azure DevOps.

`sarif_log` is generic: it takes rules and results with plain locations, so that both the
image audit (findings, tied to Dockerfile lines with `--dockerfile`, else to the image) and
`imgaudit lint` (hints at Dockerfile lines) write the same format. `audit_sarif` is the audit's
mapping. The tests validate the output against the official schema (tests/assets/sarif).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from imgaudit import __version__
from imgaudit.model import Finding, Report, Severity
from imgaudit.report.units import human_bytes

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

# SARIF has three result levels; `info` findings are notes.
_LEVELS = {Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note", Severity.INFO: "note"}


def level_of(severity: Severity) -> str:
    return _LEVELS[severity]


@dataclass(frozen=True, slots=True)
class SarifRule:
    """One rule of the catalogue (`reportingDescriptor`)."""

    id: str
    title: str  # shortDescription
    help: str  # help.text (and help.markdown when `help_markdown` is empty)
    level: str  # default level: error, warning, note
    help_markdown: str = ""
    help_uri: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SarifLocation:
    """A file (relative path or URI) and optionally its lines, 1-based and inclusive."""

    uri: str
    start_line: int | None = None
    end_line: int | None = None


@dataclass(frozen=True, slots=True)
class SarifResult:
    rule_id: str
    level: str
    message: str
    locations: tuple[SarifLocation, ...] = ()
    properties: Mapping[str, object] = field(default_factory=dict)


def sarif_log(
    rules: Sequence[SarifRule],
    results: Sequence[SarifResult],
    *,
    analysis_target: SarifLocation | None = None,
) -> dict[str, Any]:
    """A SARIF log with one run of imgaudit. `analysis_target` is listed as the run's artifact
    (the image, when the results have no file to point at)."""
    index = {rule.id: number for number, rule in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "imgaudit",
                "version": __version__,
                "rules": [_rule(rule) for rule in rules],
            }
        },
        "results": [_result(result, index) for result in results],
        "columnKind": "unicodeCodePoints",
    }
    if analysis_target is not None:
        run["artifacts"] = [
            {"location": {"uri": _uri(analysis_target.uri)}, "roles": ["analysisTarget"]},
        ]
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def _rule(rule: SarifRule) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.title},
        "help": {"text": rule.help, "markdown": rule.help_markdown or rule.help},
        "defaultConfiguration": {"level": rule.level},
        "properties": {"tags": list(rule.tags)},
    }
    if rule.help_uri:
        entry["helpUri"] = rule.help_uri
    return entry


def _result(result: SarifResult, index: Mapping[str, int]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "ruleId": result.rule_id,
        "level": result.level,
        "message": {"text": result.message},
        "locations": [_location(location) for location in result.locations],
    }
    if result.rule_id in index:
        entry["ruleIndex"] = index[result.rule_id]
    if result.properties:
        entry["properties"] = dict(result.properties)
    return entry


def _location(location: SarifLocation) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(location.uri)}}
    if location.start_line is not None:
        region: dict[str, int] = {"startLine": location.start_line}
        if location.end_line is not None and location.end_line >= location.start_line:
            region["endLine"] = location.end_line
        physical["region"] = region
    return {"physicalLocation": physical}


def _uri(path: str) -> str:
    """A relative URI reference: forward slashes, reserved characters escaped (an image
    reference's `:` and `@` stay, they are legal in a path segment after the first)."""
    return quote(path.replace("\\", "/"), safe="/:@")


def _finding_rule(finding: Finding) -> SarifRule:
    markdown = finding.fix.text
    if finding.fix.dockerfile:
        markdown += f"\n\n```dockerfile\n{finding.fix.dockerfile}\n```"
    return SarifRule(
        id=finding.id,
        title=finding.title,
        help=finding.fix.text,
        help_markdown=markdown,
        level=level_of(finding.severity),
        tags=("container-image", "image-size"),
    )


def _message(finding: Finding) -> str:
    saving = (
        f" It saves about {human_bytes(finding.estimated_savings_bytes)}."
        if finding.estimated_savings_bytes
        else ""
    )
    return f"{finding.title}.{saving} Fix: {finding.fix.text}"


def audit_sarif(
    report: Report, dockerfile: Path | None = None, image_uri: str | None = None
) -> dict[str, Any]:
    """The audit's findings as SARIF results: at their Dockerfile lines when `dockerfile` is
    given and the finding has lines, else at the image (`image_uri`, default its reference)."""
    image = SarifLocation(image_uri or report.image.reference)
    rules: dict[str, SarifRule] = {}
    results = []
    for finding in report.findings:
        rules.setdefault(finding.id, _finding_rule(finding))
        locations: tuple[SarifLocation, ...] = (image,)
        if dockerfile is not None and finding.dockerfile_lines:
            locations = tuple(
                SarifLocation(dockerfile.as_posix(), line.start, line.end)
                for line in finding.dockerfile_lines
            )
        results.append(
            SarifResult(
                rule_id=finding.id,
                level=level_of(finding.severity),
                message=_message(finding),
                locations=locations,
                properties={
                    "severity": finding.severity.value,
                    "estimated_savings_bytes": finding.estimated_savings_bytes,
                    "image": report.image.reference,
                },
            )
        )
    return sarif_log(list(rules.values()), results, analysis_target=image)

"""`imgaudit lint --format text|json|sarif|github`: one function per format over the hints.

SARIF 2.1.0 carries the catalogue as rule metadata (`tool.driver.rules`) and each hint as a
result with its physical location, so GitHub code scanning shows it on the line; `github`
prints workflow commands (`::warning file=...,line=...::`) for a plain Actions step.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

from imgaudit import __version__
from imgaudit.findings.catalogue import CATALOGUE, Level

if TYPE_CHECKING:  # the linter (bashlex, BuildKit's parser) loads only when `lint` runs
    from imgaudit.dockerfile.lint import Hint

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Level.ERROR: "error", Level.WARNING: "warning", Level.INFO: "note"}
_GITHUB_COMMAND = {Level.ERROR: "error", Level.WARNING: "warning", Level.INFO: "notice"}


class LintFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
    GITHUB = "github"


def render_text(hints: Sequence[Hint], path: str) -> str:
    return "".join(f"{path}:{h.line}: {h.id}: {h.level}: {h.message} (fix: {h.fix})\n" for h in hints)


def render_json(hints: Sequence[Hint], path: str) -> str:
    document = {
        "dockerfile": path,
        "findings": [
            {
                "id": h.id,
                "line": h.line,
                "level": str(h.level),
                "size": h.entry.size,
                "stage": h.stage,
                "title": h.entry.title,
                "message": h.message,
                "fix": h.fix,
                "snippet": h.entry.snippet,
            }
            for h in hints
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def render_sarif(hints: Sequence[Hint], path: str) -> str:
    rules = list(CATALOGUE.values())
    index = {rule.id: i for i, rule in enumerate(rules)}
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "imgaudit",
                        "version": __version__,
                        "informationUri": "https://github.com/imgaudit/imgaudit",
                        "rules": [
                            {
                                "id": rule.id,
                                "name": rule.id,
                                "shortDescription": {"text": rule.title},
                                "fullDescription": {"text": rule.sees},
                                "help": {
                                    "text": f"{rule.fix}\n\n{rule.snippet}",
                                    "markdown": f"{rule.fix}\n\n```dockerfile\n{rule.snippet}\n```",
                                },
                                "defaultConfiguration": {"level": _SARIF_LEVEL[rule.level]},
                                "properties": {"tags": ["size" if rule.size else "correctness"]},
                            }
                            for rule in rules
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": h.id,
                        "ruleIndex": index[h.id],
                        "level": _SARIF_LEVEL[h.level],
                        "message": {"text": f"{h.message}. Fix: {h.fix}"},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": path},
                                    "region": {"startLine": h.line},
                                }
                            }
                        ],
                    }
                    for h in hints
                ],
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def render_github(hints: Sequence[Hint], path: str) -> str:
    return "".join(
        f"::{_GITHUB_COMMAND[h.level]} file={_escape_property(path)},line={h.line},"
        f"title={_escape_property(h.id)}::{_escape_data(f'{h.message} (fix: {h.fix})')}\n"
        for h in hints
    )


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


RENDERERS: dict[LintFormat, Callable[[Sequence[Hint], str], str]] = {
    LintFormat.TEXT: render_text,
    LintFormat.JSON: render_json,
    LintFormat.SARIF: render_sarif,
    LintFormat.GITHUB: render_github,
}

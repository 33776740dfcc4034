"""What a gate decided: each rule's result and the verdict, and the JSON report's `gate`
section. Kept apart from the rules (`imgaudit.gate`), which load the baseline reader and
`diff`: every JSON report has a gate section, most with no limits at all."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from imgaudit.report.words import plural


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class Unit(StrEnum):
    BYTES = "bytes"
    RATIO = "ratio"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class RuleResult:
    key: str  # the option that set the rule: max-size, max-category, ...
    subject: str  # what was measured: "image", "pip_cache", a finding id
    outcome: Outcome
    unit: Unit
    value: int | float | None  # measured; None when skipped
    limit: int | float | None  # in the unit of `value`; a percent limit already turned into bytes
    limit_spec: str  # the limit as written: 300MB, 5%, 0.95
    message: str  # one line a reviewer reads

    @property
    def name(self) -> str:
        return self.key if self.subject == "image" else f"{self.key} {self.subject}"

    @property
    def passed(self) -> bool | None:
        return None if self.outcome is Outcome.SKIPPED else self.outcome is Outcome.PASSED


@dataclass(frozen=True, slots=True)
class GateResult:
    results: tuple[RuleResult, ...]

    @property
    def failed(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.outcome is Outcome.FAILED)

    @property
    def skipped(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.outcome is Outcome.SKIPPED)

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def verdict(self) -> str:
        if not self.results:
            return "no limits configured"
        checked = len(self.results) - len(self.skipped)
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        if self.failed:
            return f"{len(self.failed)} of {plural(checked, 'rule')} failed{skipped}"
        if checked == 0:
            return f"no rule could be checked{skipped}"
        if checked == 1:
            return f"the rule passed{skipped}"
        return f"all {checked} rules passed{skipped}"


def gate_to_dict(result: GateResult) -> dict[str, object]:
    """The `gate` section of the JSON report."""
    return {
        "passed": result.passed,
        "verdict": result.verdict,
        "rules": [
            {
                "rule": r.key,
                "subject": r.subject,
                "status": r.outcome.value,
                "passed": r.passed,
                "unit": r.unit.value,
                "value": r.value,
                "limit": r.limit,
                "limit_spec": r.limit_spec,
                "message": r.message,
            }
            for r in result.results
        ],
    }

"""CI gates: rules from flags and config files, evaluated against a report (and a baseline).

Evaluation returns a `GateResult`; only the CLI turns a failed gate into exit status 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from imgaudit.diff import Comparison
from imgaudit.errors import UsageError
from imgaudit.findings.catalogue import FINDING_IDS
from imgaudit.gate.quantity import parse_amount, parse_ratio, parse_size
from imgaudit.gate.rules import (
    FAIL_ON_SEVERITIES,
    FailOn,
    MaxCategory,
    MaxCategoryGrowth,
    MaxGrowth,
    MaxRemovable,
    MaxSize,
    MaxWasted,
    MinEfficiency,
    Rule,
)
from imgaudit.gate_result import GateResult, Outcome, RuleResult, gate_to_dict
from imgaudit.model import Category
from imgaudit.report.loader import ReportFigures

__all__ = [
    "GateResult",
    "Outcome",
    "Rule",
    "RuleResult",
    "Thresholds",
    "evaluate",
    "gate_to_dict",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The limits as written on the command line or in a config file, before parsing."""

    max_size: str | None = None
    max_category: Sequence[str] = ()
    max_wasted: Sequence[str] = ()
    min_efficiency: str | None = None
    max_removable: str | None = None
    fail_on: Sequence[str] = ()
    max_growth: str | None = None
    max_category_growth: Sequence[str] = ()
    # Limits read from a config file: (parameter, value as written) -> how an error names it,
    # `max-size in /repo/pyproject.toml`. Anything else is named as its flag, `--max-size`.
    origins: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def _name(self, parameter: str, value: str) -> str:
        return self.origins.get((parameter, value), "--" + parameter.replace("_", "-"))

    def rules(self) -> tuple[Rule, ...]:
        """Parse every limit; a malformed one is a UsageError naming the option, or the config
        file and key it came from."""
        rules: list[Rule] = []
        name = self._name
        if self.max_size is not None:
            rules.append(MaxSize(_parsed(name("max_size", self.max_size), self.max_size, parse_size)))
        for item in self.max_category:
            category, limit = _keyed(name("max_category", item), item)
            rules.append(MaxCategory(category, _parsed(name("max_category", item), limit, parse_amount)))
        for item in self.max_wasted:
            # `30%user`: of the layers above the first, as dive's highestUserWastedPercent
            of_user = item.strip().lower().endswith("%user")
            text = item.strip()[: -len("user")] if of_user else item
            rules.append(
                MaxWasted(_parsed(name("max_wasted", item), text, parse_amount), of_user_layers=of_user)
            )
        if self.min_efficiency is not None:
            where = name("min_efficiency", self.min_efficiency)
            rules.append(MinEfficiency(_parsed(where, self.min_efficiency, parse_ratio)))
        if self.max_removable is not None:
            where = name("max_removable", self.max_removable)
            rules.append(MaxRemovable(_parsed(where, self.max_removable, parse_amount)))
        for finding in self.fail_on:
            # A misspelt id would never be reported, so the rule would pass forever: refuse it.
            if finding not in FINDING_IDS and finding not in FAIL_ON_SEVERITIES:
                raise UsageError(
                    f"{name('fail_on', finding)} {finding!r}: neither a severity "
                    f"({', '.join(FAIL_ON_SEVERITIES)}) nor a finding id; known ids: {', '.join(FINDING_IDS)}"
                )
            rules.append(FailOn(finding))
        if self.max_growth is not None:
            rules.append(
                MaxGrowth(_parsed(name("max_growth", self.max_growth), self.max_growth, parse_amount))
            )
        for item in self.max_category_growth:
            where = name("max_category_growth", item)
            category, limit = _keyed(where, item)
            rules.append(MaxCategoryGrowth(category, _parsed(where, limit, parse_amount)))
        return tuple(rules)


def _parsed(option: str, text: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(text)
    except UsageError as exc:
        raise UsageError(f"{option}: {exc.message}") from exc


def _keyed(option: str, item: str) -> tuple[str, str]:
    """`CATEGORY=LIMIT`; the category id as the report spells it (`pip-cache` is accepted)."""
    name, sep, limit = item.partition("=")
    category = name.strip().replace("-", "_")
    known = [c.value for c in Category]
    if not sep or not limit.strip():
        raise UsageError(f"{option} {item!r}: expected CATEGORY=LIMIT, like pip_cache=0 or app=50MB")
    if category not in known:
        raise UsageError(f"{option} {item!r}: unknown category {name.strip()!r}; known: {', '.join(known)}")
    return category, limit.strip()


def evaluate(rules: Sequence[Rule], figures: ReportFigures, comparison: Comparison | None) -> GateResult:
    return GateResult(tuple(rule.evaluate(figures, comparison) for rule in rules))

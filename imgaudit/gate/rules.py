"""The CI rules: small objects with a key and `evaluate(figures, comparison) -> RuleResult`.

A rule that cannot be measured (no plan in the report, no baseline given) is skipped with a
reason, never passed silently and never failed for lack of data. Percent limits become bytes
against a stated whole, so every size rule compares bytes with bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from imgaudit.diff import Change, Comparison, Scope
from imgaudit.gate.quantity import Amount, Percent, Size
from imgaudit.gate_result import Outcome, RuleResult, Unit
from imgaudit.report.loader import ReportFigures
from imgaudit.report.units import human_bytes
from imgaudit.report.words import plural


class Rule(Protocol):
    @property
    def key(self) -> str: ...

    def evaluate(self, figures: ReportFigures, comparison: Comparison | None) -> RuleResult: ...


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"


@dataclass(frozen=True, slots=True)
class _Judgement:
    passed: bool
    allowed: int  # the limit in bytes
    limit_text: str

    @property
    def relation(self) -> str:
        return "within" if self.passed else "exceeds"


def _judge(measured: int, limit: Amount, whole: int) -> _Judgement:
    allowed = limit.of(whole)
    limit_text = human_bytes(allowed)
    if isinstance(limit, Percent):
        limit_text = f"{limit} ({limit_text})"
    return _Judgement(measured <= allowed, allowed, limit_text)


def _bytes_rule(
    key: str, subject: str, label: str, measured: int, limit: Amount, whole: int, whole_label: str
) -> RuleResult:
    """`measured` must not exceed `limit`, a size or a percentage of `whole`."""
    judgement = _judge(measured, limit, whole)
    value_text = human_bytes(measured)
    if isinstance(limit, Percent):
        value_text += f" ({_share(measured, whole)} of {whole_label} {human_bytes(whole)})"
    return RuleResult(
        key=key,
        subject=subject,
        outcome=Outcome.PASSED if judgement.passed else Outcome.FAILED,
        unit=Unit.BYTES,
        value=measured,
        limit=judgement.allowed,
        limit_spec=_spec(limit),
        message=f"{label} {value_text} {judgement.relation} the limit of {judgement.limit_text}",
    )


def _skipped(key: str, subject: str, unit: Unit, limit_spec: str, reason: str) -> RuleResult:
    return RuleResult(key, subject, Outcome.SKIPPED, unit, None, None, limit_spec, f"skipped: {reason}")


def _spec(limit: Amount) -> str:
    return str(limit)


@dataclass(frozen=True, slots=True)
class MaxSize:
    """The image as it ships: every layer's bytes, uncompressed (what `docker images` shows).
    Wasted bytes count: they are pushed and pulled like any other."""

    limit: Size
    key: str = "max-size"

    def evaluate(self, figures: ReportFigures, comparison: Comparison | None) -> RuleResult:
        del comparison
        return _bytes_rule(self.key, "image", "image size", figures.total_bytes, self.limit, 0, "")


@dataclass(frozen=True, slots=True)
class MaxCategory:
    """Bytes of one category in the final filesystem; a percentage is of the final filesystem."""

    category: str
    limit: Amount
    key: str = "max-category"

    def evaluate(self, figures: ReportFigures, comparison: Comparison | None) -> RuleResult:
        del comparison
        measured = figures.categories.get(self.category, 0)
        return _bytes_rule(
            self.key,
            self.category,
            f"category {self.category}",
            measured,
            self.limit,
            figures.final_bytes,
            "final filesystem",
        )


@dataclass(frozen=True, slots=True)
class MaxWasted:
    """Bytes shipped but never seen by the container; a percentage is of the whole image, or
    (`of_user_layers`, dive's highestUserWastedPercent) of every layer but the first."""

    limit: Amount
    key: str = "max-wasted"
    of_user_layers: bool = False

    def evaluate(self, figures: ReportFigures, comparison: Comparison | None) -> RuleResult:
        del comparison
        if self.of_user_layers:
            user = sum(layer.size_bytes for layer in figures.layers if layer.index != 0)
            return _bytes_rule(
                self.key,
                "image",
                "wasted",
                figures.wasted_bytes,
                self.limit,
                user,
                "the layers above the first",
            )
        return _bytes_rule(
            self.key, "image", "wasted", figures.wasted_bytes, self.limit, figures.total_bytes, "image"
        )


@dataclass(frozen=True, slots=True)
class MinEfficiency:
    ratio: float
    key: str = "min-efficiency"

    def evaluate(self, figures: ReportFigures, comparison: Comparison | None) -> RuleResult:
        del comparison
        passed = figures.efficiency >= self.ratio
        relation = "meets" if passed else "is below"
        return RuleResult(
            key=self.key,
            subject="image",
            outcome=Outcome.PASSED if passed else Outcome.FAILED,
            unit=Unit.RATIO,
            value=figures.efficiency,
            limit=self.ratio,
            limit_spec=f"{self.ratio:g}",
            message=f"efficiency {figures.efficiency:.4f} {relation} the minimum of {self.ratio:g}",
        )


@dataclass(frozen=True, slots=True)
class MaxRemovable:
    """What the advisor's plan would remove in total; a percentage is of the whole image."""

    limit: Amount
    key: str = "max-removable"

    def evaluate(self, figures: ReportFigures, comparison: Comparison | None) -> RuleResult:
        del comparison
        if figures.plan_savings_bytes is None:
            return _skipped(self.key, "image", Unit.BYTES, _spec(self.limit), "the report has no plan")
        return _bytes_rule(
            self.key,
            "image",
            "removable by the plan",
            figures.plan_savings_bytes,
            self.limit,
            figures.total_bytes,
            "image",
        )


# `--fail-on high` fails on high findings; `medium` on medium and high; `low` on all but info.
SEVERITY_RANKS = {"info": 0, "low": 1, "medium": 2, "high": 3}
FAIL_ON_SEVERITIES = ("high", "medium", "low")


def fail_on_matches(subject: str, finding_id: str, severity: str) -> bool:
    """Whether `--fail-on SUBJECT` (a finding id or a severity) catches this finding."""
    if subject in SEVERITY_RANKS:
        return SEVERITY_RANKS.get(severity, -1) >= SEVERITY_RANKS[subject]
    return finding_id == subject


@dataclass(frozen=True, slots=True)
class FailOn:
    """Fails when the advisor reports this finding (an id), or any finding of this severity or
    a higher one (`high`, `medium`, `low`)."""

    finding: str
    key: str = "fail-on"

    def evaluate(self, figures: ReportFigures, comparison: Comparison | None) -> RuleResult:
        del comparison
        if figures.findings is None:
            return _skipped(self.key, self.finding, Unit.COUNT, "0", "the report has no findings")
        matches = [f for f in figures.findings if fail_on_matches(self.finding, f.id, f.severity)]
        savings = sum(f.savings_bytes for f in matches)
        if self.finding in SEVERITY_RANKS:
            ids = ", ".join(sorted({f.id for f in matches}))
            message = (
                f"{plural(len(matches), 'finding')} of severity {self.finding} or higher: {ids}, "
                f"{human_bytes(savings)} removable"
                if matches
                else f"no finding of severity {self.finding} or higher"
            )
        else:
            message = (
                f"finding {self.finding} reported {plural(len(matches), 'time')}, {human_bytes(savings)} removable"
                if matches
                else f"finding {self.finding} not reported"
            )
        return RuleResult(
            key=self.key,
            subject=self.finding,
            outcome=Outcome.FAILED if matches else Outcome.PASSED,
            unit=Unit.COUNT,
            value=len(matches),
            limit=0,
            limit_spec="0",
            message=message,
        )


def _growth_rule(key: str, subject: str, label: str, change: Change, limit: Amount) -> RuleResult:
    """Growth since the baseline must not exceed `limit`; a shrink passes and is shown signed."""
    before, after = change.before or 0, change.after or 0
    judgement = _judge(max(change.delta, 0), limit, before)
    sign = "+" if change.delta >= 0 else "-"
    return RuleResult(
        key=key,
        subject=subject,
        outcome=Outcome.PASSED if judgement.passed else Outcome.FAILED,
        unit=Unit.BYTES,
        value=change.delta,
        limit=judgement.allowed,
        limit_spec=_spec(limit),
        message=(
            f"{label} {sign}{human_bytes(abs(change.delta))} ({human_bytes(before)} -> "
            f"{human_bytes(after)}) {judgement.relation} the limit of {judgement.limit_text}"
        ),
    )


@dataclass(frozen=True, slots=True)
class MaxGrowth:
    """Growth of the whole image since the baseline; a percentage is of the baseline image."""

    limit: Amount
    key: str = "max-growth"

    def evaluate(self, figures: ReportFigures, comparison: Comparison | None) -> RuleResult:
        del figures
        if comparison is None:
            return _skipped(self.key, "image", Unit.BYTES, _spec(self.limit), "no --baseline given")
        return _growth_rule(self.key, "image", "image growth", comparison.total, self.limit)


@dataclass(frozen=True, slots=True)
class MaxCategoryGrowth:
    """Growth of one category since the baseline; a percentage is of the baseline's bytes of
    that category (so a category that was empty may not grow by a percentage at all)."""

    category: str
    limit: Amount
    key: str = "max-category-growth"

    def evaluate(self, figures: ReportFigures, comparison: Comparison | None) -> RuleResult:
        del figures
        if comparison is None:
            return _skipped(self.key, self.category, Unit.BYTES, _spec(self.limit), "no --baseline given")
        change = next(
            (c for c in comparison.categories if c.name == self.category),
            Change(Scope.CATEGORY, self.category, 0, 0),
        )
        return _growth_rule(self.key, self.category, f"category {self.category} growth", change, self.limit)

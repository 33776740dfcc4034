"""Every rule on both sides of its limit: at the limit it passes, one unit past it fails."""

from __future__ import annotations

from dataclasses import replace

import pytest

from imgaudit.diff import compare
from imgaudit.errors import UsageError
from imgaudit.gate import Outcome, Thresholds, evaluate
from imgaudit.report.loader import FindingFigure, LayerFigure, ReportFigures

FIGURES = ReportFigures(
    reference="example/app:1",
    total_bytes=1_000_000,
    final_bytes=900_000,
    wasted_bytes=100_000,
    efficiency=0.9,
    categories={"base_image": 500_000, "pip_cache": 150_000, "python_packages": 250_000, "app": 0},
    layers=(LayerFigure(0, "ADD rootfs /", 500_000, True), LayerFigure(1, "RUN pip install", 500_000, False)),
    distributions=None,
    findings=(FindingFigure("pip-cache-in-layer", "pip cache shipped", 150_000),),
    plan_savings_bytes=250_000,
)


def outcome(
    thresholds: Thresholds, figures: ReportFigures = FIGURES, baseline: ReportFigures | None = None
) -> Outcome:
    comparison = compare(baseline, figures) if baseline else None
    result = evaluate(thresholds.rules(), figures, comparison)
    assert len(result.results) == 1
    return result.results[0].outcome


@pytest.mark.parametrize(
    ("passing", "failing"),
    [
        (Thresholds(max_size="1000000"), Thresholds(max_size="999999")),
        (Thresholds(max_size="1MB"), Thresholds(max_size="0.9MB")),
        (Thresholds(max_category=("pip_cache=150000",)), Thresholds(max_category=("pip_cache=149999",))),
        (Thresholds(max_category=("app=0",)), Thresholds(max_category=("pip_cache=0",))),
        # percent of the final filesystem: 150000 / 900000 = 16.67%
        (Thresholds(max_category=("pip-cache=17%",)), Thresholds(max_category=("pip_cache=16%",))),
        (Thresholds(max_wasted=("100000",)), Thresholds(max_wasted=("99999",))),
        (Thresholds(max_wasted=("10%",)), Thresholds(max_wasted=("9.99%",))),
        (Thresholds(min_efficiency="0.9"), Thresholds(min_efficiency="0.9001")),
        (Thresholds(min_efficiency="90%"), Thresholds(min_efficiency="91%")),
        (Thresholds(max_removable="250000"), Thresholds(max_removable="249999")),
        (Thresholds(max_removable="25%"), Thresholds(max_removable="24%")),
        (Thresholds(fail_on=("dev-dependencies-installed",)), Thresholds(fail_on=("pip-cache-in-layer",))),
    ],
)
def test_each_rule_passes_at_its_limit_and_fails_past_it(passing: Thresholds, failing: Thresholds) -> None:
    assert outcome(passing) is Outcome.PASSED
    assert outcome(failing) is Outcome.FAILED


def test_growth_rules_on_both_sides_of_the_limit() -> None:
    baseline = replace(
        FIGURES,
        total_bytes=800_000,
        categories={**FIGURES.categories, "pip_cache": 100_000},
    )
    # grew by 200000 bytes = 25% of the baseline image
    assert outcome(Thresholds(max_growth="200000"), baseline=baseline) is Outcome.PASSED
    assert outcome(Thresholds(max_growth="199999"), baseline=baseline) is Outcome.FAILED
    assert outcome(Thresholds(max_growth="25%"), baseline=baseline) is Outcome.PASSED
    assert outcome(Thresholds(max_growth="24.9%"), baseline=baseline) is Outcome.FAILED
    # pip_cache grew 50000 = 50% of its baseline
    assert outcome(Thresholds(max_category_growth=("pip_cache=50%",)), baseline=baseline) is Outcome.PASSED
    assert outcome(Thresholds(max_category_growth=("pip_cache=49%",)), baseline=baseline) is Outcome.FAILED
    assert outcome(Thresholds(max_category_growth=("pip_cache=50000",)), baseline=baseline) is Outcome.PASSED
    assert outcome(Thresholds(max_category_growth=("pip_cache=49999",)), baseline=baseline) is Outcome.FAILED


def test_a_shrinking_image_passes_a_zero_growth_limit_and_reports_the_signed_change() -> None:
    baseline = replace(FIGURES, total_bytes=1_200_000)
    result = evaluate(Thresholds(max_growth="0").rules(), FIGURES, compare(baseline, FIGURES))
    (rule,) = result.results
    assert rule.outcome is Outcome.PASSED
    assert rule.value == -200_000
    assert "-200.0 kB" in rule.message


def test_a_category_that_was_empty_may_not_grow_by_a_percentage() -> None:
    baseline = replace(FIGURES, categories={**FIGURES.categories, "pip_cache": 0})
    assert outcome(Thresholds(max_category_growth=("pip_cache=100%",)), baseline=baseline) is Outcome.FAILED


@pytest.mark.parametrize(
    ("thresholds", "figures", "reason"),
    [
        (Thresholds(max_removable="1MB"), replace(FIGURES, plan_savings_bytes=None), "no plan"),
        (Thresholds(fail_on=("pip-cache-in-layer",)), replace(FIGURES, findings=None), "no findings"),
        (Thresholds(max_growth="5%"), FIGURES, "no --baseline"),
        (Thresholds(max_category_growth=("app=0",)), FIGURES, "no --baseline"),
    ],
)
def test_a_rule_without_data_is_skipped_with_its_reason(
    thresholds: Thresholds, figures: ReportFigures, reason: str
) -> None:
    result = evaluate(thresholds.rules(), figures, None)
    (rule,) = result.results
    assert rule.outcome is Outcome.SKIPPED
    assert reason in rule.message
    assert rule.passed is None
    assert result.passed


def test_every_rule_reports_value_limit_and_message() -> None:
    thresholds = Thresholds(max_size="2MB", max_wasted=("5%",), min_efficiency="0.5")
    result = evaluate(thresholds.rules(), FIGURES, None)
    assert [(r.key, r.value, r.limit, r.outcome) for r in result.results] == [
        ("max-size", 1_000_000, 2_000_000, Outcome.PASSED),
        ("max-wasted", 100_000, 50_000, Outcome.FAILED),
        ("min-efficiency", 0.9, 0.5, Outcome.PASSED),
    ]
    assert result.results[1].message == (
        "wasted 100.0 kB (10.0% of image 1.0 MB) exceeds the limit of 5% (50.0 kB)"
    )
    assert result.verdict == "1 of 3 rules failed"


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        (Thresholds(max_category=("pip_cache",)), "expected CATEGORY=LIMIT"),
        (Thresholds(max_category=("nonsense=1MB",)), "unknown category 'nonsense'"),
        (Thresholds(max_category=("app=lots",)), "--max-category: invalid size"),
        (Thresholds(max_size="5%"), "--max-size: invalid size"),
        (Thresholds(fail_on=("pip-cache-in-layers",)), "--fail-on 'pip-cache-in-layers': neither a severity"),
        (Thresholds(min_efficiency="2"), "--min-efficiency: invalid ratio"),
    ],
)
def test_bad_limits_are_usage_errors(thresholds: Thresholds, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        thresholds.rules()


def test_user_wasted_percent_divides_by_the_layers_above_the_first_as_dive_does() -> None:
    """dive's highestUserWastedPercent: wasted / (every layer but the first). Here 100 kB wasted
    is 10% of the image but 20% of the 500 kB above the base layer."""
    assert outcome(Thresholds(max_wasted=("15%",))) is Outcome.PASSED
    assert outcome(Thresholds(max_wasted=("15%user",))) is Outcome.FAILED
    assert outcome(Thresholds(max_wasted=("20%user",))) is Outcome.PASSED

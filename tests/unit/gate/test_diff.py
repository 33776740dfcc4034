from __future__ import annotations

from dataclasses import replace

from imgaudit.diff import ChangeKind, compare
from imgaudit.report.loader import DistributionFigure, LayerFigure, ReportFigures

BEFORE = ReportFigures(
    reference="app:1",
    total_bytes=300,
    final_bytes=300,
    wasted_bytes=0,
    efficiency=1.0,
    categories={"base_image": 100, "app": 200, "pip_cache": 0},
    layers=(
        LayerFigure(0, "ADD rootfs /", 100, True),
        LayerFigure(1, "RUN true", 50, False),
        LayerFigure(2, "RUN true", 150, False),
    ),
    distributions=(DistributionFigure("/venv", "six", "1.0", 10),),
    findings=None,
    plan_savings_bytes=None,
)


def test_repeated_instructions_are_matched_by_occurrence() -> None:
    after = replace(
        BEFORE,
        layers=(
            LayerFigure(0, "ADD rootfs /", 100, True),
            LayerFigure(1, "RUN true", 50, False),
            LayerFigure(2, "RUN true", 170, False),
            LayerFigure(3, "RUN true", 5, False),
        ),
    )
    layers = [(c.name, c.kind, c.delta) for c in compare(BEFORE, after).layers]
    assert layers == [("RUN true [#2]", ChangeKind.GREW, 20), ("RUN true [#3]", ChangeKind.APPEARED, 5)]


def test_empty_categories_count_as_absent_and_unchanged_ones_are_left_out() -> None:
    after = replace(BEFORE, categories={"base_image": 100, "app": 200, "pip_cache": 40})
    (change,) = compare(BEFORE, after).categories
    assert (change.name, change.kind, change.before, change.after) == (
        "pip_cache",
        ChangeKind.APPEARED,
        None,
        40,
    )
    assert change.percent is None


def test_packages_are_not_compared_when_a_report_has_no_environments() -> None:
    comparison = compare(BEFORE, replace(BEFORE, distributions=None))
    assert comparison.packages is None
    assert comparison.changes() == ()


def test_packages_in_several_environments_are_named_with_their_environment() -> None:
    after = replace(
        BEFORE,
        distributions=(
            DistributionFigure("/venv", "six", "1.0", 10),
            DistributionFigure("/usr/lib/python3/dist-packages", "six", "1.0", 10),
        ),
    )
    packages = compare(BEFORE, after).packages
    assert packages is not None
    # the venv's six is the same on both sides; the system one is new
    assert [(c.name, c.kind) for c in packages] == [
        ("six (/usr/lib/python3/dist-packages)", ChangeKind.APPEARED)
    ]


def test_classic_builder_content_digests_do_not_make_a_step_new() -> None:
    def copy(digest: str, size: int) -> ReportFigures:
        return replace(BEFORE, layers=(LayerFigure(0, f"COPY file:{digest * 64} in /app ", size, False),))

    (change,) = compare(copy("a", 10), copy("b", 30)).layers
    assert (change.name, change.kind, change.delta) == ("COPY file:… in /app ", ChangeKind.GREW, 20)


def test_a_moved_single_environment_still_matches_packages_by_name() -> None:
    after = replace(BEFORE, distributions=(DistributionFigure("/app/.venv", "six", "1.1", 12),))
    packages = compare(BEFORE, after).packages
    assert packages is not None
    assert [(c.name, c.kind, c.delta, c.detail) for c in packages] == [
        ("six", ChangeKind.GREW, 2, "1.0 -> 1.1")
    ]

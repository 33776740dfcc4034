"""Small pieces of the renderers: the generic SARIF builder (as `lint` uses it), the treemap
geometry, plain words."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from imgaudit.model import Severity
from imgaudit.report.html import Rect, squarify
from imgaudit.report.sarif import SarifLocation, SarifResult, SarifRule, level_of, sarif_log
from imgaudit.report.words import one_line_fix, plural

SARIF_SCHEMA = Path(__file__).parents[2] / "assets" / "sarif" / "sarif-schema-2.1.0.json"


def test_a_lint_style_log_with_dockerfile_lines_validates() -> None:
    rule = SarifRule(
        "unpinned-poetry", "Poetry is installed without a version", "Pin it.", level_of(Severity.LOW)
    )
    result = SarifResult(
        "unpinned-poetry",
        rule.level,
        "pip install poetry: pin the version",
        (SarifLocation("docker/Dockerfile dev", 3, 3),),
    )
    log = sarif_log([rule], [result])
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))
    (location,) = log["runs"][0]["results"][0]["locations"]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "docker/Dockerfile%20dev"},
        "region": {"startLine": 3, "endLine": 3},
    }
    assert log["runs"][0]["results"][0]["ruleIndex"] == 0
    assert "artifacts" not in log["runs"][0]


@pytest.mark.parametrize("sizes", [[500, 300, 120, 60, 20], [1], [7, 7, 7, 7], [1000, 1, 1]])
def test_squarify_tiles_the_area_in_proportion(sizes: list[int]) -> None:
    area = Rect(10, 20, 960, 420)
    rects = squarify(sizes, area)
    assert sum(r.w * r.h for r in rects) == pytest.approx(area.w * area.h)
    for size, rect in zip(sizes, rects, strict=True):
        assert rect.w * rect.h == pytest.approx(area.w * area.h * size / sum(sizes))
        assert area.x - 1e-6 <= rect.x and rect.x + rect.w <= area.x + area.w + 1e-6
        assert area.y - 1e-6 <= rect.y and rect.y + rect.h <= area.y + area.h + 1e-6


def test_plain_words() -> None:
    assert [plural(n, "layer") for n in (0, 1, 2)] == ["0 layers", "1 layer", "2 layers"]
    assert one_line_fix("Install the main group: `poetry install --without dev` (pip: leave them out).") == (
        "Install the main group: `poetry install --without dev`"
    )
    assert one_line_fix("Use `a (b)` here; or not.") == "Use `a (b)` here"

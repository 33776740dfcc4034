"""The HTML report in a real browser (Debian's Chromium, headless, driven by Playwright): the
page renders with no console error and no request beyond the file itself, and its charts add
up to the report's figures. The screenshot is kept in the test's temporary directory (look at
it: `pytest -s` prints where), never in git."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgaudit.cli import main
from tests.integration.conftest import unavailable

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).parents[2] / "samples" / "naive-poetry.tar"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def test_the_sample_page_renders_offline_with_the_reports_totals(tmp_path: Path) -> None:
    try:
        from playwright import sync_api
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e . --group dev)")
    if shutil.which(CHROMIUM) is None:
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    page_path, json_path = tmp_path / "report.html", tmp_path / "report.json"
    result = CliRunner().invoke(
        main,
        [
            str(SAMPLE),
            "--dockerfile", str(SAMPLE.with_suffix(".Dockerfile")),
            "--format", f"html={page_path}",
            "--format", f"json={json_path}",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(json_path.read_text())

    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_path.as_uri())
        categories = page.eval_on_selector_all(
            "svg.treemap g.category", "gs => gs.map(g => Number(g.dataset.bytes))"
        )
        parts = page.eval_on_selector_all(
            "svg.treemap g.category",
            "gs => gs.map(g => [Number(g.dataset.bytes), [...g.querySelectorAll('g.part')]"
            ".reduce((sum, p) => sum + Number(p.dataset.bytes), 0)])",
        )
        bars = page.eval_on_selector_all(
            "svg.waterfall g.bar",
            "gs => gs.map(g => [g.classList[1], Number(g.dataset.from), Number(g.dataset.to)])",
        )
        drawn = page.eval_on_selector_all(
            "svg.treemap rect", "rs => rs.filter(r => r.getBBox().width > 0).length"
        )
        findings = page.locator("article.finding").count()
        located = page.locator("article.finding p.where").count()
        screenshot = tmp_path / "report.png"
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    print(f"screenshot: {screenshot}")

    assert errors == []
    assert requests == [page_path.as_uri()]  # self-contained: nothing else is fetched
    assert sum(categories) == report["image"]["final_bytes"]
    assert all(inner in (0, whole) for whole, inner in parts)  # a category's parts add up to it
    assert drawn >= len(categories)
    plan = report["plan"]
    assert bars[0] == ["total", report["image"]["total_bytes"], report["image"]["total_bytes"]]
    assert bars[-1][1] == plan["estimated_final_bytes"]
    steps = [bar for bar in bars if bar[0] == "step"]
    assert [to for _, _, to in steps] == [s["estimated_final_bytes"] for s in plan["steps"]]
    assert findings == len(report["findings"])
    assert located == sum(1 for f in report["findings"] if f["dockerfile_lines"]) > 0
    assert screenshot.stat().st_size > 10_000

"""CI gates end to end through the real CLI: limits, config files, baselines and every
output format, on archives built from specs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import xmlschema
from click.testing import CliRunner, Result
from markdown_it import MarkdownIt

from imgaudit.cli import main
from imgaudit.report.json import schema
from tests.support.gate_images import write_project

ASSETS = Path(__file__).parents[1] / "assets"

# The grown project (see gate_images): total 2050341 bytes, final 1950341, wasted 100000,
# pip_cache 200000, python_packages 700295, app 50000.
GROWN_TOTAL = 2_050_341


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("images")
    small = write_project(root / "small.tar")
    grown = write_project(root / "grown.tar", grown=True)
    baseline = root / "baseline.json"
    result = CliRunner().invoke(main, [str(small), "--format", f"json={baseline}"])
    assert result.exit_code == 0, result.output
    return {"small": small, "grown": grown, "baseline": baseline}


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory, so no config file of this repository is picked up."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def gate(result: Result) -> dict[str, dict[str, object]]:
    document = json.loads(result.stdout)
    jsonschema.validate(document, schema())
    return {f"{r['rule']} {r['subject']}": r for r in document["gate"]["rules"]}


@pytest.mark.parametrize(
    ("passing", "failing"),
    [
        (["--max-size", str(GROWN_TOTAL)], ["--max-size", str(GROWN_TOTAL - 1)]),
        (["--max-size", "2.1MB"], ["--max-size", "1.9MiB"]),
        (["--max-category", "pip_cache=200kB"], ["--max-category", "pip_cache=199999"]),
        (["--max-category", "app=50000"], ["--max-category", "app=0"]),
        (["--max-wasted", "100000"], ["--max-wasted", "99999"]),
        (["--max-wasted", "5%"], ["--max-wasted", "4.8%"]),
        (["--min-efficiency", "0.95"], ["--min-efficiency", "0.952"]),
    ],
)
def test_each_threshold_flag_on_both_sides_of_its_limit(
    images: dict[str, Path], cwd: Path, passing: list[str], failing: list[str]
) -> None:
    ok = run(images["grown"], "--format", "json", *passing)
    assert ok.exit_code == 0, ok.output
    (rule,) = gate(ok).values()
    assert rule["status"] == "passed"
    bad = run(images["grown"], "--format", "json", *failing)
    assert bad.exit_code == 1, bad.output
    (rule,) = gate(bad).values()
    assert rule["status"] == "failed" and rule["passed"] is False
    assert isinstance(rule["value"], int | float) and isinstance(rule["limit"], int | float)


@pytest.mark.parametrize(
    ("passing", "failing"),
    [
        # the advisor's plan for the grown image: the pip cache (200000) and the late deletion (100000)
        (["--max-removable", "300kB"], ["--max-removable", "299999"]),
        (["--max-removable", "15%"], ["--max-removable", "14%"]),
        (["--fail-on", "poetry-cache-in-layer"], ["--fail-on", "pip-cache-in-layer"]),
    ],
)
def test_advisor_rules_on_both_sides(
    images: dict[str, Path], cwd: Path, passing: list[str], failing: list[str]
) -> None:
    ok = run(images["grown"], "--format", "json", *passing)
    assert ok.exit_code == 0, ok.output
    bad = run(images["grown"], "--format", "json", *failing)
    assert bad.exit_code == 1, bad.output
    (rule,) = gate(bad).values()
    assert rule["status"] == "failed"


def test_the_terminal_lists_every_rule_with_value_and_limit(images: dict[str, Path], cwd: Path) -> None:
    result = run(images["grown"], "--max-size", "1MB", "--max-category", "app=1MB", "--max-growth", "1%")
    assert result.exit_code == 1
    text = result.stdout
    assert "Gate: 1 of 2 rules failed" in text
    assert re.search(r"^ failed\s+max-size", text, re.M)
    assert "image size 2.1 MB exceeds the limit of 1.0 MB" in text
    assert "skipped: no --baseline given" in text


def test_growth_gates_against_a_baseline_of_the_smaller_image(images: dict[str, Path], cwd: Path) -> None:
    # the grown image adds 600137 bytes to the 1450204 of the baseline: 41.4%
    args = [images["grown"], "--format", "json", "--baseline", images["baseline"]]
    ok = run(*args, "--max-growth", "600137", "--max-category-growth", "pip_cache=200000")
    assert ok.exit_code == 0, ok.output
    bad = run(*args, "--max-growth", "41%", "--max-category-growth", "python_packages=10%")
    assert bad.exit_code == 1
    rules = gate(bad)
    assert rules["max-growth image"]["value"] == 600_137
    assert rules["max-growth image"]["limit"] == int(1_450_204 * 0.41)
    assert rules["max-category-growth python_packages"]["status"] == "failed"
    comparison = json.loads(bad.stdout)["comparison"]
    assert comparison["total"] == {
        "name": "image (all layers)",
        "change": "grew",
        "before_bytes": 1_450_204,
        "after_bytes": 2_050_341,
        "delta_bytes": 600_137,
    }
    assert [c["name"] for c in comparison["categories"]] == ["python_packages", "pip_cache"]


def test_the_same_image_against_its_own_baseline_passes_a_zero_growth_gate(
    images: dict[str, Path], cwd: Path
) -> None:
    result = run(images["small"], "--baseline", images["baseline"], "--max-growth", "0")
    assert result.exit_code == 0, result.output


def test_config_file_limits_apply_and_flags_win(images: dict[str, Path], cwd: Path) -> None:
    (cwd / "pyproject.toml").write_text(
        '[tool.imgaudit]\nmax-size = "1MB"\nmin-efficiency = 0.5\n'
        '[tool.imgaudit.max-category]\npip_cache = 0\napp = "1MB"\n'
    )
    from_file = gate(run(images["grown"], "--format", "json"))
    assert set(from_file) == {
        "max-size image",
        "min-efficiency image",
        "max-category pip_cache",
        "max-category app",
    }
    assert from_file["max-size image"]["status"] == "failed"
    assert from_file["max-category pip_cache"]["status"] == "failed"
    # A flag replaces the file's limit; a CATEGORY= flag replaces that category's only.
    result = run(images["grown"], "--format", "json", "--max-size", "3MB", "--max-category", "pip_cache=1MB")
    assert result.exit_code == 0, result.output
    flagged = gate(result)
    assert flagged["max-size image"]["limit"] == 3_000_000
    assert flagged["max-category pip_cache"]["limit"] == 1_000_000
    assert flagged["max-category app"]["limit"] == 1_000_000
    assert flagged["min-efficiency image"]["limit"] == 0.5


def test_imgaudit_toml_wins_over_pyproject_and_config_flag_names_a_file(
    images: dict[str, Path], cwd: Path
) -> None:
    (cwd / "pyproject.toml").write_text('[tool.imgaudit]\nmax-size = "1MB"\n')
    (cwd / ".imgaudit.toml").write_text('max-size = "3MB"\n')
    assert run(images["grown"]).exit_code == 0
    other = cwd / "strict.toml"
    other.write_text('max-size = "2MB"\n')
    assert run(images["grown"], "--config", other).exit_code == 1


def test_dive_ci_rules(images: dict[str, Path], cwd: Path) -> None:
    (cwd / ".dive-ci").write_text(
        "rules:\n  lowestEfficiency: 0.9\n  highestWastedBytes: 200kB\n  highestUserWastedPercent: 0.04\n"
    )
    result = run(images["grown"], "--format", "json")
    assert result.exit_code == 1
    rules = json.loads(result.stdout)["gate"]["rules"]
    assert [(r["rule"], r["limit_spec"], r["status"]) for r in rules] == [
        ("max-wasted", "200kB", "passed"),
        ("max-wasted", "4%", "failed"),  # 100000 of 2050341 bytes is 4.9%
        ("min-efficiency", "0.9", "passed"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-size", "big"], "--max-size: invalid size 'big'"),
        (["--max-category", "caches=0"], "unknown category 'caches'"),
        (["--max-wasted", "5 percent"], "--max-wasted: invalid size"),
        (["--min-efficiency", "1.5"], "invalid ratio"),
        (["--format", "pdf"], "unknown format 'pdf'"),
        (["--format", "html"], "--format html needs a file"),
        (["--format", "json", "--format", "markdown"], "only one --format can print"),
        (["--format", "json=a.json", "--format", "markdown=b.md", "--output", "c"], "--output names"),
    ],
)
def test_bad_flags_exit_2_with_one_line(
    images: dict[str, Path], cwd: Path, args: list[str], message: str
) -> None:
    result = run(images["grown"], *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("imgaudit: error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "the report is not valid JSON"),
        ('{"schema": "imgaudit/report/v2"}', "written by a newer imgaudit"),
        ('{"schema": "imgaudit/report/v1", "image": []}', "malformed report: image should be an object"),
        ('{"hello": 1}', "not an imgaudit report"),
    ],
)
def test_an_unusable_baseline_exits_2_before_reading_the_image(cwd: Path, content: str, message: str) -> None:
    (cwd / "baseline.json").write_text(content)
    result = run(cwd / "missing-image.tar", "--baseline", cwd / "baseline.json")
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_a_bad_config_file_exits_2(images: dict[str, Path], cwd: Path) -> None:
    (cwd / ".imgaudit.toml").write_text("max-size = [\n")
    result = run(images["grown"])
    assert result.exit_code == 2 and "the config file is not valid TOML" in result.stderr


def test_several_formats_at_once_each_valid(images: dict[str, Path], cwd: Path) -> None:
    result = run(
        images["grown"],
        "--baseline", images["baseline"],
        "--max-size", "1MB",
        "--max-category", "pip_cache=0",
        "--min-efficiency", "0.5",
        "--format", "json=report.json",
        "--format", "markdown=comment.md",
        "--format", "junit=junit.xml",
        "--format", "github",
    )  # fmt: skip
    assert result.exit_code == 1
    jsonschema.validate(json.loads((cwd / "report.json").read_text()), schema())

    xmlschema.XMLSchema(ASSETS / "junit.xsd").validate(cwd / "junit.xml")
    junit = (cwd / "junit.xml").read_text()
    assert junit.count("<testcase ") == 3 and junit.count("<failure ") == 2

    assert "::error title=imgaudit%3A max-size failed::image size 2.1 MB exceeds" in result.stdout


def test_markdown_comment_renders_a_rules_table_and_the_growth(images: dict[str, Path], cwd: Path) -> None:
    result = run(
        images["grown"], "--baseline", images["baseline"], "--max-size", "1MB", "--min-efficiency", "0.9",
        "--format", "markdown",
    )  # fmt: skip
    assert result.exit_code == 1
    text = result.stdout
    assert text.splitlines()[0].startswith("### ❌ imgaudit: 1 of 2 rules failed")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    tables = [i for i, t in enumerate(tokens) if t.type == "table_open"]
    assert len(tables) == 4  # rules, growth, the plan, the findings with their fixes
    rows = _rows(tokens, tables[0])
    assert rows[0] == ["rule", "measured", "limit", "result"]
    assert rows[1] == ["max-size", "2.1 MB", "1.0 MB", "❌ failed"]
    assert rows[2] == ["min-efficiency", "0.9512", "0.9", "✅ passed"]
    growth = _rows(tokens, tables[1])
    assert growth[0] == ["what", "before", "after", "change"]
    assert growth[1] == ["category: Python packages", "400.2 kB", "700.3 kB", "+300.1 kB"]
    assert ["category: pip cache", "-", "200.0 kB", "+200.0 kB (appeared)"] in growth
    assert ["layer: RUN make scratch", "-", "100.0 kB", "+100.0 kB (appeared)"] in growth
    assert all(len(row) == 4 for row in growth)


def _rows(tokens: list, start: int) -> list[list[str]]:  # type: ignore[type-arg]
    rows, row = [], None
    for token in tokens[start:]:
        if token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append("".join(child.content for child in token.children or []))
        elif token.type == "tr_close":
            rows.append(row)
            row = None
        elif token.type == "table_close":
            break
    return rows


def test_github_format_writes_the_job_summary(
    images: dict[str, Path], cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = cwd / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run(images["grown"], "--max-wasted", "1%", "--format", "github")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)
    assert "::error title=imgaudit%3A max-wasted failed::wasted 100.0 kB (4.9%25 of image 2.1 MB)" in lines[0]
    (cache,) = [line for line in lines if line.startswith("::warning title=imgaudit%3A pip-cache-in-layer::")]
    assert ": about 200.0 kB removable. Fix: " in cache
    text = summary.read_text()
    assert text.startswith("earlier step\n### ❌ imgaudit: 1 of 1 rule failed")


@pytest.mark.parametrize("chosen", ["json", "markdown", "junit", "terminal"])
def test_output_still_names_the_file_of_a_single_format(
    images: dict[str, Path], cwd: Path, chosen: str
) -> None:
    result = run(images["grown"], "--format", chosen, "--output", cwd / "out", "--max-size", "1MB")
    assert result.exit_code == 1
    assert result.stdout == ""
    text = (cwd / "out").read_text()
    assert "max-size" in text


def test_terminal_with_a_baseline_shows_what_changed(images: dict[str, Path], cwd: Path) -> None:
    result = run(images["grown"], "--baseline", images["baseline"])
    assert result.exit_code == 0
    assert "image (all layers): 1.5 MB -> 2.1 MB, +600.1 kB (+41.4%)" in result.stdout
    assert re.search(r"^ appeared\s+package\s+extra 1\.0", result.stdout, re.M)

"""The report as people and CI systems read it: the one-screen terminal report, SARIF (checked
against the official schema), GitHub annotations at Dockerfile lines, the Markdown comment,
JUnit with findings as test cases, severity gates, config-file settings and --quiet."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import jsonschema
import pytest
import xmlschema
from click.testing import CliRunner, Result
from rich.console import Console

from imgaudit.audit import AuditOptions, audit
from imgaudit.cli import main
from imgaudit.report import terminal
from imgaudit.report.view import AuditView
from imgaudit.sources.resolve import open_reference
from tests.support.imagespec import ImageSpec, Layer, write_image
from tests.unit.advise.naive import NAIVE_DOCKERFILE, naive_spec

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "samples" / "naive-poetry.tar"
ASSETS = ROOT / "tests" / "assets"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory, so no config file of this repository is picked up."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def naive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A naive Poetry image and the Dockerfile it was built from."""
    root = tmp_path_factory.mktemp("naive")
    dockerfile = root / "Dockerfile"
    dockerfile.write_text(NAIVE_DOCKERFILE)
    return write_image(naive_spec(), root / "image.tar"), dockerfile


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def _interactive(width: int, height: int) -> list[str]:
    with open_reference(str(SAMPLE), image=None, platform=None, warn=lambda _: None) as source:
        report = audit(source, AuditOptions())
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=width, height=height, color_system="truecolor")
    terminal.paint(AuditView(report), console)
    return ANSI.sub("", buffer.getvalue()).splitlines()


def test_the_sample_fits_an_80x24_terminal_and_leads_with_the_answer() -> None:
    lines = _interactive(80, 24)
    print("\n".join(lines))  # the screen, for whoever reads the test log
    assert len(lines) <= 24
    assert all(len(line) <= 80 for line in lines)
    assert lines[0].startswith("imgaudit · imgaudit-sample/naive-poetry:latest")
    answer = " ".join(lines[2:4])
    assert "removable (48%)" in answer and "biggest win: step 3" in answer
    plan = next(i for i, line in enumerate(lines) if "Plan: the reference practices" in line)
    assert plan < 6  # the plan is on screen without scrolling, and so are the fixes
    assert sum(1 for line in lines if line.lstrip().startswith("fix: ")) == 4
    assert "More: --details" in lines[-1]


def test_piped_output_is_neither_wrapped_nor_cut(cwd: Path) -> None:
    result = run(SAMPLE)
    lines = result.stdout.splitlines()
    assert result.exit_code == 0
    assert not [line for line in lines if line != line.rstrip()]  # no trailing spaces
    assert "…" not in result.stdout  # nothing cut, however long
    assert "remove it in the same RUN as `poetry install`" in result.stdout
    assert "6.2 MB wasted (37%)" in result.stdout
    assert "biggest win: step 3, Delete in the same RUN that creates (6.2 MB)" in result.stdout
    for stutter in ("layer(s)", "rule(s)", "decided by", "dev dependency (dev)", " 1 layers"):
        assert stutter not in result.stdout


def test_details_show_every_section_in_plain_words(cwd: Path) -> None:
    result = run(SAMPLE, "--details")
    assert result.exit_code == 0
    text = result.stdout
    assert "base image: 1 layer, found from the image history" in text
    assert "declared in the dev group" in text and "dev dependency (dev)" not in text
    assert "RUN rm -rf /root/.cache/virtualenv" in text  # the layer's instruction, whole
    one = run(SAMPLE, "--show", "layers").stdout
    assert "Layers" in one and "Largest directories" not in one


def _sarif_schema() -> dict[str, object]:
    loaded: dict[str, object] = json.loads((ASSETS / "sarif" / "sarif-schema-2.1.0.json").read_text())
    return loaded


def test_sarif_validates_and_points_at_the_image_without_a_dockerfile(cwd: Path) -> None:
    result = run(SAMPLE, "--format", "sarif")
    assert result.exit_code == 0, result.output
    log = json.loads(result.stdout)
    jsonschema.validate(log, _sarif_schema())
    (run_,) = log["runs"]
    rules = {rule["id"]: rule for rule in run_["tool"]["driver"]["rules"]}
    assert set(rules) == {r["ruleId"] for r in run_["results"]}
    assert rules["late-deletion"]["defaultConfiguration"]["level"] == "error"
    assert "same RUN" in rules["late-deletion"]["help"]["text"]
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"] for r in run_["results"] for loc in r["locations"]
    }
    assert uris == {"imgaudit-sample/naive-poetry:latest"}
    assert run_["artifacts"][0]["roles"] == ["analysisTarget"]


def test_sarif_and_github_annotations_point_at_dockerfile_lines(naive: tuple[Path, Path], cwd: Path) -> None:
    image, dockerfile = naive
    sarif = run(image, "--dockerfile", dockerfile, "--format", "sarif=out.sarif", "--format", "github")
    assert sarif.exit_code == 0, sarif.output
    log = json.loads((cwd / "out.sarif").read_text())
    jsonschema.validate(log, _sarif_schema())
    late = [r for r in log["runs"][0]["results"] if r["ruleId"] == "late-deletion"]
    regions = [loc["physicalLocation"]["region"] for r in late for loc in r["locations"]]
    assert {region["startLine"] for region in regions} == {5, 6}
    annotations = [line for line in sarif.stdout.splitlines() if "late-deletion" in line]
    assert [a.split(",title=")[0] for a in annotations] == [
        f"::warning file={dockerfile.as_posix()},line=5,endLine=5",
        f"::warning file={dockerfile.as_posix()},line=6,endLine=6",
    ]


def test_severity_gates_and_junit_lists_findings(naive: tuple[Path, Path], cwd: Path) -> None:
    image, _ = naive
    high = run(image, "--fail-on", "high", "--format", "junit=junit.xml")
    assert high.exit_code == 1
    xmlschema.XMLSchema(ASSETS / "junit.xsd").validate(cwd / "junit.xml")
    junit = (cwd / "junit.xml").read_text()
    report = json.loads(run(image, "--format", "json").stdout)
    severities = {f["id"]: f["severity"] for f in report["findings"]}
    assert junit.count("<testcase ") == len(severities)
    assert junit.count("<failure ") == sum(1 for s in severities.values() if s == "high")
    assert 'classname="imgaudit.findings"' in junit
    # a severity below every reported one is caught by `low`, not by a stricter threshold
    lowest = min(severities.values(), key=["info", "low", "medium", "high"].index)
    assert run(image, "--fail-on", "low").exit_code == (1 if lowest != "info" else 0)
    assert run(image, "--ignore", "late-deletion", "--fail-on", "late-deletion").exit_code == 0


def test_markdown_shows_plan_and_fixes_and_no_verdict_without_a_gate(cwd: Path) -> None:
    result = run(SAMPLE, "--format", "markdown")
    text = result.stdout
    assert result.exit_code == 0
    first = text.splitlines()[0]
    assert first == "### imgaudit · `imgaudit-sample/naive-poetry:latest`"
    assert "no limits" not in text and "rule" not in text
    assert "#### Plan:" in text and "| 3 | Delete in the same RUN that creates | 6.2 MB | 8.8 MB |" in text
    assert "**Fix:** Install only the main dependency group" in text
    assert "biggest win: step 3" in text


def test_config_sets_ignores_and_severity_limits_and_the_report_names_it(cwd: Path) -> None:
    (cwd / "pyproject.toml").write_text('[tool.imgaudit]\nfail-on = ["high"]\nignore = ["late-deletion"]\n')
    result = run(SAMPLE, "--format", "terminal", "--format", "json=report.json")
    assert result.exit_code == 1
    assert f"limits from {cwd / 'pyproject.toml'}" in result.stdout
    assert json.loads((cwd / "report.json").read_text())["gate"]["config"] == str(cwd / "pyproject.toml")
    assert "late-deletion" not in result.stdout
    (cwd / "pyproject.toml").write_text('[tool.imgaudit]\nmax-size = "big"\n')
    bad = run(SAMPLE)
    assert bad.exit_code == 2
    assert bad.stderr.startswith(f"imgaudit: error: max-size in {cwd / 'pyproject.toml'}: invalid size 'big'")
    assert bad.stderr.count("\n") == 1


def test_quiet_keeps_stderr_empty(cwd: Path) -> None:
    result = run(SAMPLE, "--quiet", "--format", "json")
    assert result.exit_code == 0
    assert result.stderr == ""


def test_the_readme_shows_the_samples_report_as_it_is(cwd: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"<!-- sample-output -->\n```\n(.*?)```\n<!-- /sample-output -->", readme, re.DOTALL)
    assert shown is not None
    assert run(SAMPLE).stdout == shown.group(1)


def test_an_empty_image_renders_in_every_format(tmp_path: Path, cwd: Path) -> None:
    image = write_image(ImageSpec(layers=[Layer([], "ADD empty /")]), tmp_path / "empty.tar")
    formats = ["json", "markdown", "github", "junit", "sarif", "html"]
    result = run(
        image, "--details", *(f"--format={name}={cwd / name}" for name in formats), "--format=terminal"
    )
    assert result.exit_code == 0, result.output
    assert "Final filesystem (0 Bytes): empty" in result.stdout
    assert all((cwd / name).stat().st_size > 0 for name in formats)
    jsonschema.validate(json.loads((cwd / "sarif").read_text()), _sarif_schema())

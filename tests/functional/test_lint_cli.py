"""`imgaudit lint` as a CI user runs it: formats, exit codes, ignores, stages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from imgaudit.advise import CATALOGUE as ADVISOR_DETECTORS
from imgaudit.cli import main
from imgaudit.findings.catalogue import CATALOGUE, Level

SARIF_SCHEMA = Path(__file__).parents[1] / "assets" / "sarif" / "sarif-schema-2.1.0.json"
SINGLE_STAGE = """\
FROM python:3.12-slim
RUN pip install --no-cache-dir poetry==1.8.3
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry install --no-root
"""
MULTI_STAGE_CLEAN_RUNTIME = """\
FROM python:3.12-slim AS builder
RUN pip install poetry==1.8.3
ENV POETRY_VIRTUALENVS_IN_PROJECT=1
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry install --only main --no-root

FROM python:3.12-slim
WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
"""
PYPROJECT = '[tool.poetry]\nname = "app"\n\n[tool.poetry.group.dev.dependencies]\npytest = "*"\n'


def lint(tmp_path: Path, dockerfile: str, *args: str, pyproject: str = PYPROJECT) -> tuple[int, str]:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    (tmp_path / "pyproject.toml").write_text(pyproject)
    result = CliRunner().invoke(main, ["lint", str(tmp_path / "Dockerfile"), *args])
    return result.exit_code, result.output


def ids(output: str) -> set[str]:
    return {line.split(": ")[1] for line in output.splitlines() if line}


def test_warnings_fail_by_default_and_the_threshold_moves_the_bar(tmp_path: Path) -> None:
    code, output = lint(tmp_path, SINGLE_STAGE)
    assert code == 1
    assert {"toolchain-at-runtime", "dev-dependencies-installed", "poetry-cache-in-layer"} <= ids(output)
    assert lint(tmp_path, SINGLE_STAGE, "--failure-threshold", "error")[0] == 0


def test_a_builder_that_never_ships_gives_no_size_finding(tmp_path: Path) -> None:
    code, output = lint(tmp_path, MULTI_STAGE_CLEAN_RUNTIME)
    assert code == 0, output
    assert output == ""


def test_a_project_without_a_dev_group_gets_no_dev_finding(tmp_path: Path) -> None:
    _, output = lint(tmp_path, SINGLE_STAGE, pyproject='[tool.poetry]\nname = "app"\n')
    assert "dev-dependencies-installed" not in ids(output)


def test_inline_pragma_and_project_config_silence_findings(tmp_path: Path) -> None:
    pragma = SINGLE_STAGE.replace(
        "RUN poetry install",
        "# imgaudit ignore=dev-dependencies-installed,venv-not-in-project\nRUN poetry install",
    )
    _, output = lint(tmp_path, pragma)
    assert not ids(output) & {"dev-dependencies-installed", "venv-not-in-project"}
    assert "poetry-cache-in-layer" in ids(output)
    configured = PYPROJECT + '\n[tool.imgaudit]\nignore = ["toolchain-at-runtime", "poetry-cache-in-layer"]\n'
    _, output = lint(tmp_path, SINGLE_STAGE, pyproject=configured)
    assert not ids(output) & {"toolchain-at-runtime", "poetry-cache-in-layer"}


def test_an_unknown_ignore_id_is_an_error(tmp_path: Path) -> None:
    code, output = lint(tmp_path, SINGLE_STAGE, "--ignore", "no-such-id")
    assert code == 2 and "unknown finding id(s): no-such-id" in output


def test_target_selects_the_stage_that_ships(tmp_path: Path) -> None:
    text = MULTI_STAGE_CLEAN_RUNTIME.replace("FROM python:3.12-slim\n", "FROM python:3.12-slim AS runtime\n")
    code, output = lint(tmp_path, text, "--target", "builder")
    assert code == 1 and "toolchain-at-runtime" in ids(output)
    assert lint(tmp_path, text, "--target", "nope")[0] == 2


def test_sarif_is_valid_and_carries_rules_and_locations(tmp_path: Path) -> None:
    code, output = lint(tmp_path, SINGLE_STAGE, "--format", "sarif")
    assert code == 1
    document = json.loads(output)
    jsonschema.validate(document, json.loads(SARIF_SCHEMA.read_text()))
    run = document["runs"][0]
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == set(CATALOGUE)
    result = next(r for r in run["results"] if r["ruleId"] == "poetry-cache-in-layer")
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 5
    assert result["level"] == "warning"


def test_github_annotations_and_json(tmp_path: Path) -> None:
    _, output = lint(tmp_path, SINGLE_STAGE, "--format", "github")
    assert f"::warning file={tmp_path / 'Dockerfile'},line=5,title=poetry-cache-in-layer::" in output
    _, output = lint(tmp_path, SINGLE_STAGE, "--format", "json")
    findings = json.loads(output)["findings"]
    cache = next(f for f in findings if f["id"] == "poetry-cache-in-layer")
    assert cache["line"] == 5 and cache["size"] is True and cache["level"] == "warning"


def test_apt_recommends_off_by_option_is_not_apt_recommends(tmp_path: Path) -> None:
    text = "FROM debian:bookworm-slim\nRUN apt-get -o APT::Install-Recommends=false install -y curl\n"
    _, output = lint(tmp_path, text)
    assert "apt-recommends" not in ids(output)


def test_the_advisor_and_lint_share_one_catalogue() -> None:
    for finding_id in ADVISOR_DETECTORS:
        assert CATALOGUE[finding_id].image, finding_id
    assert {i for i, e in CATALOGUE.items() if e.image} == set(ADVISOR_DETECTORS)
    assert all(isinstance(e.level, Level) for e in CATALOGUE.values())


def test_the_audit_honours_the_same_ignore_list(tmp_path: Path) -> None:
    from tests.support.imagespec import write_image
    from tests.unit.advise.naive import naive_spec

    archive = write_image(naive_spec(), tmp_path / "image.tar")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.imgaudit]\nignore = ["unpinned-poetry", "exec-form-not-json"]\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "imgaudit", str(archive), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = {f["id"] for f in json.loads(result.stdout)["findings"]}
    assert "unpinned-poetry" not in found and "poetry-cache-in-layer" in found


def test_the_audit_honours_inline_pragmas_of_the_dockerfile(tmp_path: Path) -> None:
    from tests.support.imagespec import write_image
    from tests.unit.advise.naive import NAIVE_DOCKERFILE, naive_spec

    archive = write_image(naive_spec(), tmp_path / "image.tar")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        NAIVE_DOCKERFILE.replace(
            "RUN poetry install\n", "# imgaudit ignore=poetry-cache-in-layer\nRUN poetry install\n"
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "imgaudit", str(archive), "--format", "json", "--dockerfile", str(dockerfile)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = {f["id"] for f in json.loads(result.stdout)["findings"]}
    assert "poetry-cache-in-layer" not in found and "venv-not-in-project" in found

"""Poetry 2.0 removed `poetry install --no-dev`: with Poetry unpinned, the build gets 2.x and
stops at that install ("The option "--no-dev" does not exist"). The unpinned-Poetry hint says so."""

from __future__ import annotations

import datetime as dt

import pytest

from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.lint import Hint, lint
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject

TODAY = dt.date(2026, 12, 1)


def unpinned(install_poetry: str, install: str, base: str = "python:3.12-slim") -> list[Hint]:
    text = (
        f"FROM {base}\nWORKDIR /app\n"
        f"RUN {install_poetry}\nCOPY pyproject.toml poetry.lock ./\nRUN {install}\nCOPY . .\n"
    )
    build = read_build(parse_dockerfile(text), ContextProject(), None, {})
    return [h for h in lint(build, TODAY) if h.id in ("unpinned-poetry", "nonexistent-poetry-version")]


def test_an_unpinned_poetry_with_no_dev_is_said_to_fail_at_that_install() -> None:
    (hint,) = unpinned("pip install --no-cache-dir poetry", "poetry install --no-dev --no-interaction")
    assert hint.line == 3
    assert "no `install --no-dev` (line 5): the build fails there" in hint.message


@pytest.mark.parametrize(
    "install", ["poetry install --without dev", "poetry install --only main", "poetry install"]
)
def test_an_unpinned_poetry_without_no_dev_is_only_unpinned(install: str) -> None:
    (hint,) = unpinned("pip install --no-cache-dir poetry", install)
    assert hint.message == "Poetry is installed without a version"


def test_a_pinned_poetry_1_with_no_dev_is_not_flagged() -> None:
    assert unpinned("pip install --no-cache-dir poetry==1.8.5", "poetry install --no-dev") == []


@pytest.mark.parametrize("base", ["python:3.8-slim", "python:3.8.13-slim-buster", "python:3.7"])
def test_on_a_python_poetry_2_does_not_run_on_pip_picks_a_1x_that_has_no_dev(base: str) -> None:
    # Poetry 2.0 requires Python 3.9: on 3.8 `pip install poetry` gets 1.8.5, --no-dev and all.
    (hint,) = unpinned("pip install poetry", "poetry install --no-dev", base)
    assert hint.message == "Poetry is installed without a version"


def test_on_an_unknown_python_the_no_dev_failure_is_still_said() -> None:
    (hint,) = unpinned("pip install poetry", "poetry install --no-dev", "company/python-base:3")
    assert "the build fails there" in hint.message


def test_an_unpinned_poetry_with_export_and_no_plugin_is_said_to_fail_there() -> None:
    # Poetry 2 no longer bundles `export` (poetry-plugin-export): "The command "export" does not exist".
    (hint,) = unpinned("pip install poetry", "poetry export -f requirements.txt -o requirements.txt")
    assert "no `export without poetry-plugin-export` (line 5): the build fails there" in hint.message


def test_both_breaks_are_named() -> None:
    (hint,) = unpinned("pip install poetry", "poetry export -o r.txt && poetry install --no-dev")
    assert (
        "no `install --no-dev` (line 5) and no `export without poetry-plugin-export` (line 5)" in hint.message
    )


@pytest.mark.parametrize(
    "install_poetry",
    ["pip install poetry poetry-plugin-export", "pip install poetry && poetry self add poetry-plugin-export"],
)
def test_export_with_its_plugin_installed_is_only_unpinned(install_poetry: str) -> None:
    (hint,) = unpinned(install_poetry, "poetry export -o requirements.txt")
    assert hint.message == "Poetry is installed without a version"

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


def unpinned(install_poetry: str, install: str) -> list[Hint]:
    text = (
        "FROM python:3.12-slim\nWORKDIR /app\n"
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

"""A tool's global options may come before its subcommand (`poetry --no-interaction install`,
`uv --cache-dir /tmp/uv sync`): the install is the same install."""

from __future__ import annotations

import pytest

from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject


def managers(run: str) -> list[str]:
    text = f"FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nRUN {run}\n"
    build = read_build(parse_dockerfile(text), ContextProject(), None, {})
    return [i.manager for stage in build.stages for step in stage.runs for i in step.installs]


@pytest.mark.parametrize(
    ("run", "manager"),
    [
        ("poetry --no-interaction --no-ansi install --only main", "poetry"),
        ("poetry -n install", "poetry"),
        ("poetry -C /app install", "poetry"),
        ("poetry --directory=/app install", "poetry"),
        ("uv --cache-dir /tmp/uv sync --frozen", "uv"),
        ("uv --no-cache sync --frozen", "uv"),
        ("pdm -v install --prod", "pdm"),
        ("pipenv --python 3.12 install --deploy", "pipenv"),
    ],
)
def test_global_options_before_the_subcommand_are_read_past(run: str, manager: str) -> None:
    assert managers(run) == [manager]


@pytest.mark.parametrize(
    "run", ["poetry -C install", "poetry --version", "uv --cache-dir sync", "pipenv --python install"]
)
def test_an_option_value_is_not_taken_for_the_subcommand(run: str) -> None:
    assert managers(run) == []

"""The known gap of the third held-out round: a RUN that calls Poetry, uv, PDM or Pipenv in a
stage where nothing installed it fails (`/bin/sh: uv: not found`). lint says so with the tool's
`{tool}-run-without-{tool}` error, and only where it can be sure: a base known to lack every
tool (python, debian, ubuntu, alpine) and nothing earlier that may have installed it unseen."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.dockerfile.test_heldout_3 import lint

PROJECT = {"pyproject.toml": '[project]\nname = "app"\nversion = "1"\ndependencies = ["click"]\n'}


@pytest.mark.parametrize(
    ("base", "install"),
    [
        ("python:3.12-slim", "uv sync --frozen --no-dev --no-cache"),
        ("docker.io/library/python:3.12", "poetry install --only main"),
        ("debian:bookworm-slim", "pdm install --prod"),
        ("alpine:3.20", "pipenv install --deploy"),
    ],
)
def test_a_tool_no_step_installed_is_an_error(tmp_path: Path, base: str, install: str) -> None:
    tool = install.split()[0]
    dockerfile = f'FROM {base}\nWORKDIR /app\nCOPY . .\nRUN {install}\nCMD ["python", "-m", "app"]\n'
    assert (4, f"{tool}-run-without-{tool}") in lint(tmp_path, dockerfile, PROJECT)


@pytest.mark.parametrize(
    "before",
    [
        "RUN pip install --no-cache-dir uv==0.5.7",
        "COPY --from=ghcr.io/astral-sh/uv:0.5.7 /uv /bin/uv",
        "RUN pip install --no-cache-dir -r requirements-build.txt",  # may name uv
        "RUN ./scripts/install-tools.sh",
        "RUN sh tools.sh",
        "RUN apk add --no-cache uv",
        "RUN apt-get update && apt-get install -y --no-install-recommends pipenv python3-poetry uv",
        "RUN conda install -y uv",
    ],
)
def test_no_error_when_something_before_installed_or_may_have_installed_it(
    tmp_path: Path, before: str
) -> None:
    dockerfile = f"FROM python:3.12-slim\nWORKDIR /app\n{before}\nCOPY . .\nRUN uv sync --frozen --no-cache\n"
    assert not any(i == "uv-run-without-uv" for _l, i in lint(tmp_path, dockerfile, PROJECT))


@pytest.mark.parametrize(
    ("base", "run"),
    [
        ("ghcr.io/astral-sh/uv:python3.12-bookworm-slim", "uv sync --frozen --no-cache"),  # carries uv
        ("myorg/python-poetry:3.12", "poetry install --only main"),  # may carry it
        ("python:${PY}-slim", "uv sync --frozen --no-cache"),  # not known
        ("python:3.12-slim", "command -v uv || pip install --no-cache-dir uv==0.5.7"),
        ("python:3.12-slim", "if [ -x /usr/bin/uv ]; then uv sync --no-cache; fi"),
        ("python:3.12-slim", "pip install --no-cache-dir uv==0.5.7 && uv sync --frozen --no-cache"),
        # uv's guide: the binary mounted for the one RUN
        (
            "python:3.12-slim",
            "--mount=from=ghcr.io/astral-sh/uv:0.5.7,source=/uv,target=/bin/uv uv sync --no-cache",
        ),
        (
            "python:3.12-slim",
            "--mount=type=bind,from=tools,source=/out,target=/usr/local/bin uv sync --no-cache",
        ),
    ],
)
def test_no_error_where_the_tool_may_be_there(tmp_path: Path, base: str, run: str) -> None:
    dockerfile = f"ARG PY=3.12\nFROM {base}\nWORKDIR /app\nCOPY . .\nRUN {run}\n"
    found = lint(tmp_path, dockerfile, PROJECT)
    assert not any(i.endswith(("-run-without-uv", "-run-without-poetry")) for _l, i in found), found


def test_a_stage_built_from_one_that_installed_the_tool_has_it(tmp_path: Path) -> None:
    dockerfile = (
        "FROM python:3.12-slim AS base\nRUN pip install --no-cache-dir poetry==1.8.5\n"
        "FROM base AS build\nWORKDIR /app\nCOPY . .\nRUN poetry install --only main\n"
        "FROM python:3.12-slim AS other\nWORKDIR /app\nCOPY . .\nRUN poetry install --only main\n"
    )
    found = lint(tmp_path, dockerfile, PROJECT)
    assert (6, "poetry-run-without-poetry") not in found
    assert (10, "poetry-run-without-poetry") in found

"""lint's late-deletion: a RUN that only deletes is flagged when an earlier step of the
build, in the stage or one it is built from, is known to have written what it deletes (survey
min-8, uv-devnull-cache: caches off, the deleted .pyc files the base image's)."""

from __future__ import annotations

import datetime as dt

import pytest

from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.lint import lint
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject

TODAY = dt.date(2026, 12, 1)
UV = "FROM python:3.12-slim\nCOPY --from=ghcr.io/astral-sh/uv:0.5.2 /uv /bin/uv\nWORKDIR /app\n"


def late(text: str) -> list[int]:
    hints = lint(read_build(parse_dockerfile(text), ContextProject()), TODAY)
    return [h.line for h in hints if h.id == "late-deletion"]


def test_deleting_what_no_step_wrote_is_not_late() -> None:
    text = (
        f"{UV}ENV UV_NO_CACHE=1 PIP_NO_CACHE_DIR=1\nCOPY pyproject.toml uv.lock ./\nRUN uv sync --frozen --no-dev\n"
        "RUN rm -rf /root/.cache /tmp/* && find /usr/local -name '*.pyc' -delete\n"
    )
    assert late(text) == []


@pytest.mark.parametrize(
    ("steps", "deletion"),
    [
        ("RUN pip install flask\n", "rm -rf /root/.cache/pip"),
        ("RUN pip install --no-cache-dir flask\n", "find /usr/local -name '*.pyc' -delete"),
        ("RUN uv sync\n", "rm -rf /root/.cache"),
        (
            "RUN uv sync --no-cache --compile-bytecode\n",
            "find /app/.venv -name __pycache__ -exec rm -rf {} +",
        ),
        ("RUN python -m compileall -q /app\n", "find /app -name '*.py[co]' -delete"),
        ("COPY . .\n", "rm -rf tests"),
        ("RUN curl -sSLo /tmp/x.tgz https://example.com/x.tgz\n", "rm -rf /tmp/*"),
        ("RUN apt-get update && apt-get install -y gcc\n", "apt-get purge -y gcc"),
        (
            "RUN apt-get update && apt-get install -y --no-install-recommends gcc\n",
            "rm -rf /var/lib/apt/lists/*",
        ),
        ("RUN pip install --no-cache-dir poetry==1.8.3\n", "pip uninstall -y poetry"),
        ("RUN pip install flask\n", "pip cache purge"),
    ],
)
def test_deleting_what_an_earlier_step_wrote_is_late(steps: str, deletion: str) -> None:
    text = f"{UV}{steps}RUN {deletion}\n"
    assert late(text) == [text.count("\n")]


@pytest.mark.parametrize(
    "install",
    ["uv sync --frozen", "PIP_NO_COMPILE=1 pip install flask", "pip install --no-compile flask"],
)
def test_bytecode_no_install_compiled_is_the_base_images(install: str) -> None:
    # uv compiles nothing unless asked; pip compiles unless told not to.
    text = (
        f"{UV}COPY . .\nRUN {install}\nRUN find / -name '*.pyc' -delete && find / -name __pycache__ -delete\n"
    )
    assert late(text) == []


def test_a_parent_stage_wrote_it_a_sibling_did_not() -> None:
    parent = "FROM python:3.12-slim AS base\nRUN apt-get update\nFROM base\nRUN rm -rf /var/lib/apt/lists/*\n"
    assert late(parent) == [4]
    sibling = (
        "FROM python:3.12-slim AS builder\nRUN apt-get update\n"
        "FROM python:3.12-slim\nRUN rm -rf /var/lib/apt/lists/*\n"
    )
    assert late(sibling) == []


def test_a_download_piped_to_a_shell_writes_nothing() -> None:
    for download in ("curl -sSL https://example.com/i.sh | sh", "wget -qO- https://example.com/i.sh | sh"):
        assert late(f"FROM python:3.12\nWORKDIR /tmp\nRUN {download}\nRUN rm -rf /tmp/*\n") == []


@pytest.mark.parametrize(
    "deletion",
    ["apt-get purge -y gcc", "apt-get clean", "pip uninstall -y setuptools", "rm -rf /var/lib/apt/lists/*"],
)
def test_what_the_base_image_holds(deletion: str) -> None:
    assert late(f"FROM python:3.12\nRUN {deletion}\n") == []

"""lint's files-rewritten-later: a recursive chown/chmod/chgrp in a stage that ships, on what an
earlier step of the stage chain wrote, ships every file twice; on a directory only made empty, or
on what the same RUN wrote, it does not."""

from __future__ import annotations

import datetime as dt

import pytest

from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.lint import lint
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject

TODAY = dt.date(2026, 12, 1)
FROM = "FROM python:3.12-slim\nWORKDIR /app\n"


def rewritten(text: str) -> list[int]:
    hints = lint(read_build(parse_dockerfile(text), ContextProject()), TODAY)
    return [h.line for h in hints if h.id == "files-rewritten-later"]


@pytest.mark.parametrize(
    ("steps", "ownership"),
    [
        ("COPY . .\n", "chown -R app:app /app"),
        ("COPY . /app\n", "useradd -m app && chown -R app:app /app"),
        ("COPY src/ ./src/\n", "chown -hR app /app/src"),
        ("COPY . .\n", "chown --recursive app:app ."),
        ("COPY . .\n", "chmod -R g=u /app"),
        ("COPY . .\n", "chgrp -R 0 /app && chmod -R g=u /app"),
        (
            "RUN python -m venv /app/.venv && /app/.venv/bin/pip install -r requirements.txt\n",
            "chown -R app /app/.venv",
        ),
        ("RUN git clone https://example.com/app.git /app/src\n", "chown -R app:app /app"),
        ("COPY --from=ghcr.io/org/build:1 /opt/venv /opt/venv\n", "chown -R app /opt/venv"),
    ],
)
def test_a_recursive_chown_of_what_an_earlier_step_wrote(steps: str, ownership: str) -> None:
    text = f"{FROM}{steps}RUN {ownership}\n"
    assert rewritten(text) == [text.count("\n")]


@pytest.mark.parametrize(
    ("steps", "ownership"),
    [
        # Only made empty: nothing to copy again.
        ("RUN mkdir -p /app/data\n", "chown -R app /app/data"),
        ("", "chown -R app:app /app"),
        # Written and chowned in the same RUN.
        ("", "git clone https://example.com/app.git /app/src && chown -R app /app/src"),
        ("COPY . .\n", "mkdir -p /app/logs && chown -R app /app/logs"),
        # Not recursive: one file copied again, not a tree.
        ("COPY entrypoint.sh /entrypoint.sh\n", "chmod +x /entrypoint.sh"),
        # What the earlier steps wrote lies elsewhere.
        ("COPY . .\n", "chown -R app /var/log/app"),
    ],
)
def test_no_second_copy(steps: str, ownership: str) -> None:
    assert rewritten(f"{FROM}{steps}RUN {ownership}\n") == []


def test_a_builder_that_never_ships_is_not_flagged_and_a_parent_stage_counts() -> None:
    builder = (
        "FROM python:3.12-slim AS builder\nCOPY . /app\nRUN chown -R app /app\n"
        "FROM python:3.12-slim\nCOPY --from=builder /app /app\n"
    )
    assert rewritten(builder) == []
    parent = "FROM python:3.12-slim AS base\nCOPY . /app\nFROM base\nRUN chown -R app /app\n"
    assert rewritten(parent) == [4]


def test_the_message_names_the_step_that_wrote_the_files() -> None:
    text = f"{FROM}COPY . .\nRUN chown -R app:app /app\n"
    [hint] = [
        h
        for h in lint(read_build(parse_dockerfile(text), ContextProject()), TODAY)
        if h.id == "files-rewritten-later"
    ]
    assert hint.message == "`chown -R` on what the COPY of line 3 wrote: every file ships again in this layer"

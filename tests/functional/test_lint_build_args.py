"""ARG values from the command line (`lint --build-arg`, `fix --build-arg`) and from the
image's history (`fix --dockerfile D IMAGE`) decide what a Dockerfile's shell tests choose."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.functional.test_fix_lint_cli import run
from tests.support.imagespec import write_image
from tests.unit.advise.naive import NAIVE_DOCKERFILE, naive_spec

PYPROJECT = """\
[tool.poetry]
name = "service"
version = "0.1.0"
description = ""
authors = ["imgaudit"]
package-mode = false

[tool.poetry.dependencies]
python = "^3.12"

[tool.poetry.group.dev.dependencies]
pytest = "^8"
"""
CHOOSING = """\
FROM python:3.12-slim AS builder
ARG ENVIRONMENT=production
ENV POETRY_VIRTUALENVS_IN_PROJECT=1 POETRY_CACHE_DIR=/tmp/poetry-cache
RUN pip install --no-cache-dir poetry==1.8.5
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN [ "$ENVIRONMENT" = development ] && poetry install --no-root || poetry install --only main --no-root; \\
    rm -rf $POETRY_CACHE_DIR

FROM python:3.12-slim
WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
CMD ["/app/.venv/bin/python", "-m", "service"]
"""


def dockerfile(tmp_path: Path, text: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    return path


def test_lint_decides_the_branch_with_the_default_or_the_build_arg(tmp_path: Path) -> None:
    path = dockerfile(tmp_path, CHOOSING)
    default = run("lint", str(path))
    assert default.returncode == 0, default.stdout + default.stderr
    development = run("lint", "--build-arg", "ENVIRONMENT=development", str(path))
    assert development.returncode == 1
    assert f"{path}:7: dev-dependencies-installed: warning: poetry install: installs the group(s) dev" in (
        development.stdout
    )
    bad = run("lint", "--build-arg", "ENVIRONMENT", str(path))
    assert bad.returncode == 2 and bad.stderr.startswith("imgaudit: error: --build-arg wants KEY=VALUE")


FLAGS_FROM_ARG = NAIVE_DOCKERFILE.replace(
    "RUN poetry install", "ARG POETRY_ARGS\nRUN poetry install $POETRY_ARGS"
)


def test_fix_reads_the_build_args_the_image_recorded(tmp_path: Path) -> None:
    """The image was built with `--build-arg POETRY_ARGS=--only=main`: its history says so, and
    fix does not add `--without dev` to an install that already leaves dev out."""
    spec = naive_spec()
    assert spec.history is not None
    history = [
        ("|1 POETRY_ARGS=--only=main /bin/sh -c poetry install $POETRY_ARGS", False)
        if created_by == "/bin/sh -c poetry install"
        else (created_by, empty)
        for created_by, empty in spec.history
    ]
    recorded = write_image(dataclasses.replace(spec, history=history), tmp_path / "recorded.tar")
    plain = write_image(spec, tmp_path / "plain.tar")
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(FLAGS_FROM_ARG)
    notes = {}
    for name, archive in (("recorded", recorded), ("plain", plain)):
        result = run(
            "fix", "--dockerfile", str(context / "Dockerfile"), "-o", str(tmp_path / name), str(archive)
        )
        assert result.returncode == 0, result.stderr
        notes[name] = result.stderr
    assert "--without dev" in notes["plain"]
    assert "--without dev" not in notes["recorded"]
    explicit = run(
        "fix", "--dockerfile", str(context / "Dockerfile"), "--build-arg", "POETRY_ARGS=--only=main",
        "-o", str(tmp_path / "explicit"),
    )  # fmt: skip
    assert explicit.returncode == 0 and "--without dev" not in explicit.stderr

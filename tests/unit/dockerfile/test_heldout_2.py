"""Lint mistakes from the second held-out survey (min-1, min-3), as `imgaudit lint --context`
reports them.

min-1: `pipenv install --dev` installs nothing dev-only when the Pipfile's [dev-packages] is
empty (and the lock's `develop` adds nothing to `default`): no dev-dependencies-installed then.
min-3: the whole context copied in a parent stage, the dependency install in the child built
FROM it: every code change reruns the install, as when both are in one stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgaudit.cli import main

PIPENV_DOCKERFILE = """\
FROM python:3.12-slim
WORKDIR /code
COPY Pipfile Pipfile.lock ./
RUN pip install --no-cache-dir pipenv==2024.0.1 && pipenv install --dev --system --deploy && rm -rf /root/.cache
COPY . .
"""
PIPFILE = '[packages]\ndjango = "*"\n\n[dev-packages]\n{dev}\n'


def lint(context: Path, dockerfile: str, files: dict[str, str] | None = None) -> list[tuple[int, str]]:
    """(line, id) of every finding `imgaudit lint --context` prints for the Dockerfile."""
    (context / "Dockerfile").write_text(dockerfile)
    for name, text in (files or {}).items():
        (context / name).write_text(text)
    result = CliRunner().invoke(
        main, ["lint", str(context / "Dockerfile"), "--context", str(context), "--format", "json"]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return [(f["line"], f["id"]) for f in json.loads(result.output)["findings"]]


def lock(default: list[str], develop: list[str]) -> str:
    return json.dumps(
        {
            "_meta": {"pipfile-spec": 6, "requires": {}, "sources": []},
            "default": {name: {"version": "==1.0"} for name in default},
            "develop": {name: {"version": "==1.0"} for name in develop},
        }
    )


def dev_installed(context: Path, files: dict[str, str]) -> bool:
    return (4, "dev-dependencies-installed") in lint(context, PIPENV_DOCKERFILE, files)


# --- min-1: pipenv install --dev with nothing dev-only ---------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        {"Pipfile": PIPFILE.format(dev=""), "Pipfile.lock": lock(["django"], [])},
        {"Pipfile": PIPFILE.format(dev="")},
        {"Pipfile.lock": lock(["django"], [])},
        # The lock's develop section repeats a main package: nothing dev-only.
        {"Pipfile": PIPFILE.format(dev='django = "*"'), "Pipfile.lock": lock(["django"], ["django"])},
        # A stand-in lock that is no Pipfile.lock: the Pipfile decides.
        {"Pipfile": PIPFILE.format(dev=""), "Pipfile.lock": "{}"},
    ],
    ids=["empty-both", "empty-pipfile", "empty-lock", "develop-within-default", "stand-in-lock"],
)
def test_dev_flag_without_dev_packages_installs_nothing_dev_only(
    tmp_path: Path, files: dict[str, str]
) -> None:
    assert not dev_installed(tmp_path, files)


@pytest.mark.parametrize(
    "files",
    [
        {"Pipfile": PIPFILE.format(dev='pytest = "*"'), "Pipfile.lock": lock(["django"], ["pytest"])},
        {"Pipfile": PIPFILE.format(dev='pytest = "*"')},
        {"Pipfile.lock": lock(["django"], ["pytest"])},
        # The lock is what `--deploy` installs: its develop section wins over the Pipfile's.
        {"Pipfile": PIPFILE.format(dev=""), "Pipfile.lock": lock(["django"], ["pytest"])},
        {"Pipfile": PIPFILE.format(dev='pytest = "*"'), "Pipfile.lock": "{}"},
        # Nothing about Pipenv in the context: the dev packages are assumed, as before.
        {},
    ],
    ids=["dev-both", "dev-pipfile", "dev-lock", "lock-wins", "stand-in-lock", "no-pipfile"],
)
def test_dev_flag_with_dev_packages_is_flagged(tmp_path: Path, files: dict[str, str]) -> None:
    assert dev_installed(tmp_path, files)


# --- min-3: the whole context copied in a parent stage ---------------------------------------

REQUIREMENTS = {"requirements.txt": "requests\n"}


def order(context: Path, dockerfile: str) -> list[int]:
    return [line for line, id_ in lint(context, dockerfile, REQUIREMENTS) if id_ == "cache-unfriendly-order"]


def test_copy_in_the_parent_install_in_the_child(tmp_path: Path) -> None:
    dockerfile = """\
FROM python:3.12-slim AS base
WORKDIR /app
COPY . /app
FROM base AS production
RUN pip install --no-cache-dir -r requirements.txt
"""
    assert order(tmp_path, dockerfile) == [3]


def test_copy_two_generations_up(tmp_path: Path) -> None:
    dockerfile = """\
FROM python:3.12-slim AS base
WORKDIR /app
ADD . .
FROM base AS middle
ENV A=1
FROM middle AS production
RUN pip install --no-cache-dir -r requirements.txt
"""
    assert order(tmp_path, dockerfile) == [3]


def test_one_finding_when_parent_and_children_install(tmp_path: Path) -> None:
    dockerfile = """\
FROM python:3.12-slim AS base
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -r requirements.txt
FROM base AS production
RUN pip install --no-cache-dir -r requirements.txt
"""
    assert order(tmp_path, dockerfile) == [3]


def test_dependencies_installed_in_the_parent_before_the_copy(tmp_path: Path) -> None:
    """Poetry's and uv's guides: the dependencies first, then the code, then the project."""
    dockerfile = """\
FROM python:3.12-slim AS base
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . /app
FROM base AS production
RUN pip install --no-cache-dir -r requirements.txt
"""
    assert order(tmp_path, dockerfile) == []


def test_only_dependency_files_in_the_parent(tmp_path: Path) -> None:
    dockerfile = """\
FROM python:3.12-slim AS base
WORKDIR /app
COPY requirements.txt /app/
FROM base AS production
RUN pip install --no-cache-dir -r requirements.txt
COPY . /app
"""
    assert order(tmp_path, dockerfile) == []


def test_a_stage_that_does_not_ship(tmp_path: Path) -> None:
    """A test stage built FROM the app's code is not what the image pays for."""
    dockerfile = """\
FROM python:3.12-slim AS base
WORKDIR /app
COPY requirements.txt .
COPY . /app
FROM base AS test
RUN pip install --no-cache-dir -r requirements.txt
FROM python:3.12-slim AS production
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . /app
"""
    assert order(tmp_path, dockerfile) == []

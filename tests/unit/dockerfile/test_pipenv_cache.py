"""Pipenv's cache and pip's PIP_NO_CACHE_DIR (survey min-9).

Pipenv installs a lock file's packages by running pip in a subprocess that inherits the
environment, with PIP_CACHE_DIR pointed into PIPENV_CACHE_DIR (pypa/pipenv:
pipenv/utils/pip.py, processes.subprocess_run). pip turns its cache off for any value of
PIP_NO_CACHE_DIR, whatever PIP_CACHE_DIR says (the no-cache callback sets the cache dir last).
Pipenv writes to its cache itself only when it locks (the resolver's hash cache), which an
install from the lock (`--deploy`, `--ignore-pipfile`, `pipenv sync`) never does."""

from __future__ import annotations

import datetime as dt

import pytest

from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.lint import lint
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject

TODAY = dt.date(2026, 12, 1)


def pipenv_cache_finding(run: str, env: str = "") -> bool:
    text = (
        f"FROM python:3.12-slim\n{env}WORKDIR /app\nCOPY Pipfile Pipfile.lock ./\n"
        f"RUN pip install --no-cache-dir pipenv==2024.0.1 && {run}\n"
    )
    hints = lint(read_build(parse_dockerfile(text), ContextProject()), TODAY)
    return any(h.id == "pipenv-cache-in-layer" for h in hints)


@pytest.mark.parametrize(
    "run",
    [
        "PIP_NO_CACHE_DIR=0 PIPENV_VENV_IN_PROJECT=1 pipenv install --deploy",
        "PIP_NO_CACHE_DIR=off pipenv sync",
        "PIP_NO_CACHE_DIR=1 pipenv install --ignore-pipfile --system",
    ],
)
def test_pip_without_cache_installs_the_lock_without_one(run: str) -> None:
    assert not pipenv_cache_finding(run)


def test_pip_no_cache_dir_from_env() -> None:
    assert not pipenv_cache_finding("pipenv install --deploy --system", env="ENV PIP_NO_CACHE_DIR=1\n")


@pytest.mark.parametrize(
    "run",
    [
        # Without --deploy, Pipenv locks when Pipfile.lock is stale: its resolver writes hashes.
        "PIP_NO_CACHE_DIR=1 pipenv install",
        # pip's cache is on: it lives in PIPENV_CACHE_DIR.
        "pipenv install --deploy",
        "PIP_NO_CACHE_DIR= pipenv sync",
    ],
)
def test_the_cache_is_written(run: str) -> None:
    assert pipenv_cache_finding(run)

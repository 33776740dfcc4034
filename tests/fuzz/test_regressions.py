"""Crashes found while fuzzing the readers (by the harness or by reviewing its targets),
each kept as the input that crashed: the reader must now end in ImgauditError or a value."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from imgaudit.classify.lockfiles import parse_poetry_lock
from imgaudit.classify.project import declared_roots
from imgaudit.config import load_config
from imgaudit.errors import ClassifyError, UsageError

LOCK_TAIL = b'[metadata]\nlock-version = "2.0"\n'


@pytest.mark.parametrize(
    "package",
    [
        b'[[package]]\nname = "a"\nversion = "1"\ndependencies = [1]\n',  # AttributeError: list.items
        b'[[package]]\nname = "a"\nversion = "1"\nextras = ["x"]\n',  # AttributeError: list.items
    ],
    ids=["dependencies-a-list", "extras-a-list"],
)
def test_a_lock_package_whose_tables_are_lists(package: bytes) -> None:
    with pytest.raises(ClassifyError, match="should be tables"):
        parse_poetry_lock(package + LOCK_TAIL, "/app/poetry.lock")


def test_fix_writes_back_an_env_value_with_a_quote_left_open_as_written(tmp_path: Path) -> None:
    """Found by the Dockerfile target once it parses what `fix` writes: an ENV value with a
    quote left open (BuildKit's parser takes it, the build would stop there) was written into
    the runtime stage as `APP_PATH=""/srv/app lib"`, which the parser refuses."""
    from imgaudit.dockerfile.commands import run_fix
    from imgaudit.dockerfile.parse import checked, parse_dockerfile

    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11-slim\n"
        'ENV POETRY_HOME="/opt/poetry" \\\n    APP_PATH="/srv/app lib\n'
        "RUN pip install --no-cache-dir poetry==1.8.3\nWORKDIR /app\nCOPY . .\n"
        "RUN poetry install --only main --no-root\n"
        'CMD ["python", "-m", "app"]\n'
    )
    (tmp_path / "pyproject.toml").write_text('[tool.poetry]\nname = "app"\n')
    text = run_fix(tmp_path / "Dockerfile", tmp_path, None, dt.date(2026, 12, 1)).result.text
    runtime = checked(parse_dockerfile(text)).stages[-1]
    env = [i.args for i in runtime.instructions if i.keyword == "ENV"]
    assert ("APP_PATH", '"/srv/app lib') in [tuple(a[i : i + 2]) for a in env for i in range(0, len(a), 2)]


def test_a_pyproject_whose_tool_is_not_a_table(tmp_path: Path) -> None:
    """`tool = 1` in a pyproject.toml: AttributeError on `.get` before."""
    path = tmp_path / "pyproject.toml"
    path.write_text("tool = 1\n")
    assert load_config(path).settings == {}
    other = tmp_path / "limits.toml"
    other.write_text("tool = 1\n")
    with pytest.raises(UsageError, match="unknown setting 'tool'"):
        load_config(other)


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        (b"[dependency-groups]\ndev = 5\n", None),  # TypeError: int is not iterable
        (  # RecursionError: 3000 groups, each including the next
            b"[dependency-groups]\n"
            + b"".join(f'g{i} = [{{include-group = "g{i + 1}"}}]\n'.encode() for i in range(3000)),
            "include-group nests more than 64 groups deep",
        ),
    ],
    ids=["group-an-int", "include-chain"],
)
def test_dependency_groups_of_the_wrong_shape(pyproject: bytes, message: str | None) -> None:
    if message is None:
        assert declared_roots(pyproject, "/app/pyproject.toml").dev == ()
    else:
        with pytest.raises(ClassifyError, match=message):
            declared_roots(pyproject, "/app/pyproject.toml")


@pytest.mark.parametrize("line", ["\x1f\x1f\x1f", "\x1c"])
def test_an_instruction_of_odd_whitespace_is_an_unknown_instruction(line: str) -> None:
    # str.split() takes \x1c-\x1f for whitespace: `.split()[0]` of the line raised IndexError.
    from imgaudit.dockerfile.parse import DockerfileError, checked, parse_dockerfile

    with pytest.raises(DockerfileError, match=r"line 2: unknown instruction '\\x1[cf]"):
        checked(parse_dockerfile(f"FROM python:3.12-slim\n{line}\n", "Dockerfile"))


def test_fix_refuses_a_venv_path_it_cannot_write_into_copy_and_env(tmp_path: Path) -> None:
    """Found by the Dockerfile target: a WORKDIR holding quotes and spaces made fix write
    `ENV VIRTUAL_ENV="/usr/src=/bin/python", "-m" .../.venv"`, which the parser refuses."""
    from imgaudit.dockerfile.commands import run_fix
    from imgaudit.dockerfile.fix import FixRefused

    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.12 AS builder\n"
        'WORKDIR /usr/src=/bin/python", "-m",  production\n'
        "RUN python -m pip install poetry==1.8.5\n"
        "RUN python -m poetry install --without dev\n"
        'CMD ["python", "-m", "app"]\n'
    )
    with pytest.raises(FixRefused, match="white space, quotes"):
        run_fix(tmp_path / "Dockerfile", tmp_path, None, dt.date(2026, 12, 1))

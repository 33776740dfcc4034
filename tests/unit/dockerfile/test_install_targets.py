"""Where an install really puts its packages, as the build model reads it (the survey of public
Dockerfiles, session 6: `ENV VIRTUAL_ENV` alone moved pip's packages into a venv that did not
exist yet, so lint blamed the venv's COPY for the tool and fix deleted the app's dependencies)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from imgaudit.dockerfile.build import Build, read_build
from imgaudit.dockerfile.lint import lint
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject
from tests.unit.dockerfile.test_fix_survey import fix, runtime_of

TODAY = dt.date(2026, 12, 1)
PDM_PROJECT = '[project]\nname = "app"\nversion = "1"\ndependencies = ["click"]\n'


def build(text: str) -> Build:
    return read_build(parse_dockerfile(text), ContextProject())


def pip_target(text: str) -> str:
    """The target of the last RUN's pip install."""
    (install,) = build(text).final.runs[-1].installs
    return install.target


def findings(text: str) -> list[str]:
    return [f"{h.id}:{h.line}" for h in lint(build(text), TODAY)]


# min-2b (hpg-pdm): the venv is PDM's, made by `pdm install` after pip installed PDM.
PDM_BUILDER = (
    "FROM python:3.12-slim AS base\nENV VIRTUAL_ENV=/app/.venv\nWORKDIR /app\n"
    "FROM base AS builder\nRUN pip install --no-cache-dir pdm\nCOPY pyproject.toml pdm.lock ./\n"
    "RUN pdm install --prod --no-editable\n"
    "FROM base\nCOPY --from=builder /app/.venv /app/.venv\nENV PATH=/app/.venv/bin:$PATH\n"
)


def test_virtual_env_alone_leaves_pip_in_the_system_python() -> None:
    # pip installs into the interpreter it runs as; no venv exists when it runs.
    model = build(PDM_BUILDER)
    (install,) = model.stages[1].runs[0].installs
    pdm = model.stages[1].end.tool("pdm")
    assert install.target == "/usr/local" and pdm is not None
    assert all(location.startswith("/usr/local/") for location in pdm.locations)
    assert not any(f.startswith("toolchain-at-runtime") for f in findings(PDM_BUILDER))


@pytest.mark.parametrize(
    ("builder", "files"),
    [
        (
            "RUN pip install --no-cache-dir pdm\nCOPY pyproject.toml pdm.lock ./\n"
            "RUN pdm install --prod --no-editable\n",
            {"pdm.lock": "", "pyproject.toml": PDM_PROJECT},
        ),
        (
            "RUN pip install --no-cache-dir uv\nCOPY pyproject.toml uv.lock ./\n"
            "RUN uv sync --locked --no-dev --no-cache\n",
            {"uv.lock": "version = 1\n", "pyproject.toml": PDM_PROJECT},
        ),
    ],
    ids=["pdm", "uv"],
)
def test_fix_keeps_the_copy_of_the_dependencies_venv(
    tmp_path: Path, builder: str, files: dict[str, str]
) -> None:
    text = fix(
        tmp_path,
        "FROM python:3.12-slim AS base\nENV VIRTUAL_ENV=/app/.venv \\\n    PATH=/app/.venv/bin:$PATH\n"
        f"WORKDIR /app\nFROM base AS builder\n{builder}"
        'FROM base\nCOPY --from=builder /app/.venv /app/.venv\nCMD ["python", "-m", "app"]\n',
        files,
    )
    assert "COPY --from=builder /app/.venv /app/.venv" in runtime_of(text)


@pytest.mark.parametrize(
    "made",
    [
        "RUN python -m venv $VIRTUAL_ENV\n",
        "RUN virtualenv /opt/venv\n",
        "RUN uv venv --seed /opt/venv\n",
        "RUN [ -d /opt/venv ] || python3 -m venv /opt/venv\n",
    ],
)
def test_a_venv_made_earlier_and_on_path_takes_pip_installs(made: str) -> None:
    text = f"FROM python:3.12\nENV VIRTUAL_ENV=/opt/venv\n{made}ENV PATH=/opt/venv/bin:$PATH\nRUN pip install flask\n"
    assert pip_target(text) == "/opt/venv"


def test_a_venv_without_pip_on_path_leaves_pip_the_system_one() -> None:
    # uv makes venvs without pip (unless --seed): `pip` is found further along PATH.
    text = "FROM python:3.12\nRUN uv venv /opt/venv\nENV PATH=/opt/venv/bin:$PATH\nRUN pip install flask\n"
    assert pip_target(text) == "/usr/local"
    assert pip_target(text.replace("pip install", "python -m pip install")) == "/opt/venv"


def test_path_to_a_venv_nothing_made_is_the_system_python() -> None:
    assert (
        pip_target("FROM python:3.12\nENV PATH=/opt/venv/bin:$PATH\nRUN pip install flask\n") == "/usr/local"
    )
    # The system's pip comes first on PATH.
    made_later_on_path = (
        "FROM python:3.12\nRUN python -m venv /v\nENV PATH=/usr/local/bin:/v/bin\nRUN pip install x\n"
    )
    assert pip_target(made_later_on_path) == "/usr/local"


def test_a_venv_copied_from_a_stage_then_on_path() -> None:
    text = (
        "FROM python:3.12 AS builder\nRUN python -m venv /opt/venv\n"
        "FROM python:3.12-slim\nCOPY --from=builder /opt/venv /venv\nENV PATH=/venv/bin:$PATH\n"
        "RUN pip install gunicorn\n"
    )
    assert pip_target(text) == "/venv"


def test_the_venvs_own_pip_or_its_activation_in_the_same_run() -> None:
    assert pip_target("FROM python:3.12\nRUN python -m venv /v && /v/bin/pip install flask\n") == "/v"
    assert (
        pip_target("FROM python:3.12\nRUN python -m venv /v && . /v/bin/activate && pip install x\n") == "/v"
    )


def test_uv_pip_install_takes_virtual_env() -> None:
    # uv (not pip) chooses its environment from VIRTUAL_ENV, and --system from the system.
    text = "FROM python:3.12\nENV VIRTUAL_ENV=/opt/venv\nRUN uv venv /opt/venv && uv pip install flask\n"
    assert pip_target(text) == "/opt/venv"
    assert pip_target(text.replace("pip install", "pip install --system")) == "/usr/local"


# min-6 (junk-tracker): `cd DIR && TOOL install` runs the install in DIR.
@pytest.mark.parametrize(
    ("install", "target"),
    [
        ("PIPENV_VENV_IN_PROJECT=1 pipenv install --deploy", "/srv/app/.venv"),
        ("uv sync --frozen", "/srv/app/.venv"),
        ("pdm install --prod", "/srv/app/.venv"),
        ("POETRY_VIRTUALENVS_IN_PROJECT=1 poetry install --only main", "/srv/app/.venv"),
        ("python -m venv venv && venv/bin/pip install -r requirements.txt", "/srv/app/venv"),
    ],
)
@pytest.mark.parametrize("cd", ["cd /srv/app/", "cd app"])
def test_a_cd_before_the_install_moves_it(cd: str, install: str, target: str) -> None:
    text = f"FROM python:3.12\nWORKDIR /srv\nCOPY . /srv/app/\nRUN pip install x && {cd} && {install}\n"
    *_, last = build(text).final.runs[-1].installs
    assert last.target == target


def test_fix_copies_the_venv_from_where_the_cd_went(tmp_path: Path) -> None:
    text = fix(
        tmp_path,
        "FROM python:3.11\nCOPY Pipfile Pipfile.lock /workspace/\n"
        "RUN pip install --no-cache-dir pipenv && \\\n    cd /workspace/ && \\\n    pipenv install --system --deploy\n",
        {"Pipfile": '[packages]\nflask = "*"\n', "Pipfile.lock": "{}\n"},
    )
    assert "COPY --from=builder /workspace/.venv /workspace/.venv" in runtime_of(text)


def test_the_cd_ends_with_its_run() -> None:
    model = build("FROM python:3.12\nWORKDIR /srv\nRUN cd /tmp && true\nRUN uv sync\n")
    assert model.final.runs[-1].installs[0].target == "/srv/.venv"


def test_uv_pip_install_finds_the_project_venv() -> None:
    # Without $VIRTUAL_ENV uv looks for .venv in the working directory and its parents.
    text = "FROM python:3.12\nWORKDIR /app\nRUN uv venv && cd src && uv pip install -r requirements.txt\n"
    assert pip_target(text) == "/app/.venv"

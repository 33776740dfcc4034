"""`imgaudit fix` on the patterns of the held-out survey of public Dockerfiles (session 5): each
test reproduces, in a file of our own, one class of wrong edit found there (the project whose
Dockerfile showed it is named), and checks the edit a careful reader would make instead."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from imgaudit.dockerfile.commands import run_fix
from imgaudit.dockerfile.fix import FixRefused
from tests.unit.dockerfile.test_fix import passes_its_own_lint

TODAY = dt.date(2026, 12, 1)
POETRY_DEV = """[tool.poetry]
name = "app"
version = "0.1.0"
description = ""
authors = ["A <a@example.com>"]

[tool.poetry.dependencies]
python = "^3.7"
flask = "*"

[tool.poetry.group.dev.dependencies]
pytest = "*"
"""
POETRY_NO_DEV = POETRY_DEV.split("[tool.poetry.group.dev")[0]
UV_PROJECT = '[project]\nname = "app"\nversion = "1"\ndependencies = ["click"]\n'


def fix(directory: Path, dockerfile: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    (directory / "Dockerfile").write_text(dockerfile)
    text = run_fix(directory / "Dockerfile", directory, None, TODAY).result.text
    passes_its_own_lint(text, directory)
    return text


def runtime_of(text: str) -> str:
    return "FROM " + text.rpartition("\nFROM ")[2]


@pytest.mark.parametrize("setting", ["POETRY_VIRTUALENVS_IN_PROJECT true", "POETRY_VIRTUALENVS_IN_PROJECT=1"])
def test_the_venv_setting_the_builder_has_stays(tmp_path: Path, setting: str) -> None:
    # TP-Taller-II/TP-Taller-II-API-Gateway: the ENV that puts the venv in the project was
    # dropped and not written again, so the venv went to the cache the RUN deletes.
    text = fix(
        tmp_path,
        "FROM python:3.11\nRUN pip install poetry==1.8.3\nWORKDIR /app\n"
        f"ENV {setting}\nCOPY poetry.lock pyproject.toml ./\nRUN poetry install\nCOPY . .\n",
        {"pyproject.toml": POETRY_DEV, "poetry.lock": '[metadata]\nlock-version = "2.0"\n'},
    )
    builder = text.rpartition("\nFROM ")[0]
    assert f"ENV {setting}\n" in builder
    assert "COPY --from=builder /app/.venv /app/.venv" in runtime_of(text)


def test_a_patch_release_on_an_old_debian_keeps_its_tag_and_gets_a_poetry_it_runs(tmp_path: Path) -> None:
    # TP-Taller-II/TP-Taller-II-API-Gateway: python:3.7.7-stretch became python:3.7.7-bookworm
    # (no such image) with Poetry 1.8.5 (which needs Python 3.8).
    text = fix(
        tmp_path,
        "FROM python:3.7.7-stretch\nWORKDIR /app\nRUN pip install poetry\n"
        "COPY poetry.lock pyproject.toml ./\nRUN poetry install\nCOPY . .\n",
        {"pyproject.toml": POETRY_DEV, "poetry.lock": '[metadata]\nlock-version = "1.1"\n'},
    )
    assert text.startswith("FROM python:3.7.7-stretch AS builder\n")
    assert "FROM python:3.7.7-slim-stretch AS runtime" in text
    assert "poetry==1.5.1" in text
    assert "bookworm" not in text


def test_a_minor_tag_on_an_old_debian_moves_to_the_current_one(tmp_path: Path) -> None:
    text = fix(
        tmp_path,
        "FROM python:3.11-buster\nWORKDIR /app\nRUN pip install poetry==1.8.3\n"
        "COPY poetry.lock pyproject.toml ./\nRUN poetry install\nCOPY . .\n",
        {"pyproject.toml": POETRY_DEV, "poetry.lock": '[metadata]\nlock-version = "2.0"\n'},
    )
    assert text.startswith("FROM python:3.11-bookworm AS builder\n")


def test_the_venv_is_beside_pyproject_toml_not_in_workdir(tmp_path: Path) -> None:
    # AnnaKPolyakova/articles: `COPY poetry.lock pyproject.toml /` under `WORKDIR /code`: Poetry
    # finds the project at / and makes /.venv; the runtime copied /code/.venv (no such thing).
    text = fix(
        tmp_path,
        "FROM python:3.10\nWORKDIR /code\nCOPY poetry.lock pyproject.toml /\nRUN pip install poetry\n"
        "RUN poetry config virtualenvs.create false\nRUN poetry install\nCOPY . .\n"
        'CMD ["gunicorn", "config.wsgi"]\n',
        {"pyproject.toml": POETRY_NO_DEV, "poetry.lock": '[metadata]\nlock-version = "2.0"\n'},
    )
    runtime = runtime_of(text)
    assert "COPY --from=builder /.venv /.venv" in runtime
    assert 'PATH="/.venv/bin:$PATH"' in runtime


def test_every_poetry_run_of_a_shell_form_start_command_goes(tmp_path: Path) -> None:
    # Isfireomat/Test_1_FastAPI: `CMD poetry run alembic ... && poetry run pytest && poetry run
    # uvicorn ...`: only the first `poetry run` was dropped, and the runtime has no Poetry.
    text = fix(
        tmp_path,
        "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install poetry==1.8.3 && poetry install\n"
        "CMD poetry run alembic upgrade head && poetry run uvicorn app.main:app\n",
        {"pyproject.toml": POETRY_NO_DEV, "poetry.lock": '[metadata]\nlock-version = "2.0"\n'},
    )
    assert "CMD alembic upgrade head && uvicorn app.main:app" in runtime_of(text)
    assert "poetry run" not in text


def test_no_locked_flag_when_the_lock_is_not_in_the_image(tmp_path: Path) -> None:
    # JaeHyuckSa/kombu-gevent-issue: only pyproject.toml is copied before `uv sync`; `--locked`
    # fails without uv.lock in the image.
    text = fix(
        tmp_path,
        "FROM python:3.12-slim\nWORKDIR /app\nCOPY --from=ghcr.io/astral-sh/uv:latest /uv /uvx /bin/\n"
        "COPY pyproject.toml .\nRUN uv sync\nCOPY . .\n",
        {"pyproject.toml": UV_PROJECT, "uv.lock": "version = 1\n"},
    )
    assert "RUN uv sync\n" in text
    assert "--locked" not in text


def test_uv_runs_a_script_file_with_python(tmp_path: Path) -> None:
    # calaldees/globalLiveStreamMetadata: `ENTRYPOINT ["uv", "run", "app.py"]` became
    # `["app.py"]`, which is no command; and uv from Docker Hub stayed in the runtime.
    text = fix(
        tmp_path,
        "FROM python:3.12-alpine\nCOPY --from=docker.io/astral/uv:latest /uv /uvx /bin/\nWORKDIR /app\n"
        'COPY pyproject.toml .\nRUN uv sync --no-dev\nCOPY app.py ./\nENTRYPOINT ["uv", "run", "app.py"]\n',
        {"pyproject.toml": UV_PROJECT, "app.py": "print(1)\n"},
    )
    runtime = runtime_of(text)
    assert 'ENTRYPOINT ["python", "app.py"]' in runtime
    assert "astral/uv" not in runtime


def test_an_entrypoint_that_is_only_the_tools_run_is_reset(tmp_path: Path) -> None:
    # cblessing24/compenv: `ENTRYPOINT ["pdm", "run"]` stayed in a runtime without PDM.
    text = fix(
        tmp_path,
        "FROM python:3.11\nRUN pip install pdm\nWORKDIR /src\nCOPY . .\nRUN pdm install --dev\n"
        'ENTRYPOINT ["pdm", "run"]\n',
        {
            "pyproject.toml": UV_PROJECT + '\n[dependency-groups]\ndev = ["pytest"]\n',
            "pdm.lock": "[metadata]\n",
        },
    )
    assert "ENTRYPOINT []" in runtime_of(text)
    assert '"pdm"' not in runtime_of(text)


def test_poetry_2_gets_without_for_no_dev(tmp_path: Path) -> None:
    # tomikil/UsefulHabitsTracker: fix pinned Poetry 2.1.3 (a 2.x lock) and kept `--no-dev`,
    # which Poetry 2 does not have.
    text = fix(
        tmp_path,
        "FROM python:3.12-slim\nWORKDIR /app\nRUN pip install poetry\nCOPY poetry.lock pyproject.toml ./\n"
        "RUN poetry config virtualenvs.create false && poetry install --no-dev --no-root\nCOPY . .\n",
        {"pyproject.toml": POETRY_DEV, "poetry.lock": '[metadata]\nlock-version = "2.1"\n'},
    )
    assert "poetry==2." in text
    assert "--no-dev" not in text
    assert "poetry install --without dev --no-root" in text


def test_uv_copied_after_the_code_runs_no_install_before_it(tmp_path: Path) -> None:
    # Builtbyjb/blueprint: `COPY . .` then `COPY --from=.../uv`: the dependencies-first install
    # went before the COPY of uv and ran no uv.
    text = fix(
        tmp_path,
        "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nCOPY --from=ghcr.io/astral-sh/uv:0.6.14 /uv /uvx /bin/\n"
        "RUN uv sync --frozen --no-cache\n",
        {"pyproject.toml": UV_PROJECT, "uv.lock": "version = 1\n"},
    )
    builder = text.rpartition("\nFROM ")[0]
    assert builder.index("COPY --from=ghcr.io/astral-sh/uv") < builder.index("RUN uv sync")


def test_a_project_in_a_sub_folder_copied_whole_is_read_there(tmp_path: Path) -> None:
    # lisafoxhandsome26/social_network: `COPY requirements .` brings a pyproject.toml without a
    # dev group; `--without dev` was added (Poetry 1.8 fails on a group that does not exist).
    text = fix(
        tmp_path,
        'FROM python:3.12-alpine\nWORKDIR /src\nCOPY backend .\nCOPY requirements .\nRUN pip install "poetry==1.8.3"\n'
        'RUN poetry install\nCMD ["python", "main.py"]\n',
        {"requirements/pyproject.toml": POETRY_NO_DEV, "backend/main.py": "print(1)\n"},
    )
    assert "--without" not in text


@pytest.mark.parametrize(
    ("dockerfile", "says"),
    [
        # FruKun/vm-vk-bot: Poetry into the builder's system site-packages, copied by directory.
        (
            "FROM python:3.12-slim AS builder\nCOPY pyproject.toml poetry.lock ./\n"
            "RUN pip install --no-cache-dir poetry && poetry config virtualenvs.create false "
            "&& poetry install --no-cache --no-root\n"
            "FROM python:3.12-slim\nCOPY --from=builder /usr/local/lib/python3.12/site-packages/ "
            "/usr/local/lib/python3.12/site-packages/\nCOPY --from=builder /usr/local/bin/ /usr/local/bin/\n",
            "system site-packages",
        ),
        # ddoroshev/pylerplate: base images that carry Poetry and place the venv at /venv (here
        # with a full Python image to run on, so that there is something to fix).
        (
            "FROM example.org/pybase:compile AS compile\nCOPY poetry.lock pyproject.toml /app/\n"
            "RUN poetry install --no-root --only main\nCOPY . /app/\n"
            "FROM python:3.12\nCOPY --from=compile /venv /venv\nCOPY --from=compile /app /app\n",
            "takes /app, /venv from `compile`",
        ),
    ],
)
def test_a_runtime_that_copies_something_else_than_the_venv_is_refused(
    tmp_path: Path, dockerfile: str, says: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(POETRY_DEV)
    (tmp_path / "poetry.lock").write_text('[metadata]\nlock-version = "2.0"\n')
    (tmp_path / "Dockerfile").write_text(dockerfile)
    with pytest.raises(FixRefused) as refused:
        run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY)
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_build_lint_finds_nothing_in_is_nothing_to_fix(tmp_path: Path) -> None:
    """fix edits what lint finds: pylerplate's own build (main group only, the runtime taking
    /venv and /app from the compile stage) has nothing, so fix neither refuses nor rewrites."""
    (tmp_path / "pyproject.toml").write_text(POETRY_DEV)
    (tmp_path / "poetry.lock").write_text('[metadata]\nlock-version = "2.0"\n')
    (tmp_path / "Dockerfile").write_text(
        "FROM example.org/pybase:compile AS compile\nCOPY poetry.lock pyproject.toml /app/\n"
        "RUN poetry install --no-root --only main\nCOPY . /app/\n"
        "FROM example.org/pybase:runtime\nCOPY --from=compile /venv /venv\nCOPY --from=compile /app /app\n"
    )
    outcome = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY)
    assert not outcome.changed and outcome.diff == ""

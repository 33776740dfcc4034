"""`imgaudit fix` on the patterns of the third held-out survey of public Dockerfiles: each test
reproduces, in a file of our own, one class of wrong edit found there (the project whose
Dockerfile showed it is named when the index gave it), and checks the edit a careful reader
would make instead."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from imgaudit.dockerfile.commands import run_fix
from imgaudit.dockerfile.fix import FixRefused
from tests.unit.dockerfile.test_fix_survey import fix, runtime_of

TODAY = dt.date(2026, 12, 1)
UV_LOCK = 'version = 1\nrequires-python = ">=3.11"\n'


@pytest.mark.parametrize("extra", ["--extra dev", "--extra=dev", "--extra \\\n    test"])
def test_a_dev_extra_uv_sync_asks_for_is_dropped(tmp_path: Path, extra: str) -> None:
    # rscx-r1/tron-info-test: `uv sync --extra dev` became `uv sync --no-dev --extra dev`, and
    # --no-dev leaves out the dev group only: the dev extra still shipped.
    project = (
        '[project]\nname = "app"\nversion = "1"\ndependencies = ["click"]\n\n'
        '[project.optional-dependencies]\ndev = ["pytest"]\ntest = ["coverage"]\npostgres = ["asyncpg"]\n'
    )
    text = fix(
        tmp_path,
        "FROM python:3.12-slim\nCOPY --from=ghcr.io/astral-sh/uv:0.5.7 /uv /bin/\nWORKDIR /app\n"
        f"COPY pyproject.toml uv.lock ./\nRUN uv sync --frozen {extra} --extra postgres\nCOPY . .\n",
        {"pyproject.toml": project, "uv.lock": UV_LOCK},
    )
    joined = re.sub(r"\\\n\s*", " ", text)  # continuation lines joined
    syncs = [line for line in joined.splitlines() if "uv sync" in line]
    assert syncs
    for sync in syncs:
        assert "--no-dev" in sync and "--extra postgres" in sync
        assert not re.search(r"--extra[= ](?:dev|test)\b", sync), sync


def test_the_venv_of_the_last_sync_is_the_one_the_runtime_gets(tmp_path: Path) -> None:
    # A public uv Dockerfile: `uv sync --no-install-project` with bind mounts before any
    # WORKDIR (a venv in /.venv), then WORKDIR /app and `uv sync` (a second venv, /app/.venv,
    # which `uv run` uses): the runtime got /.venv, without the project.
    project = '[project]\nname = "app"\nversion = "1"\ndependencies = ["click"]\n'
    text = fix(
        tmp_path,
        "FROM python:3.13-alpine\nCOPY --from=ghcr.io/astral-sh/uv:0.5.7 /uv /bin/\n"
        "ENV UV_LINK_MODE=copy\n"
        "RUN --mount=type=cache,target=/root/.cache/uv \\\n"
        "    --mount=type=bind,source=uv.lock,target=uv.lock \\\n"
        "    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\\n"
        "    uv sync --locked --no-install-project\n"
        "WORKDIR /app\nCOPY . .\n"
        "RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked\n"
        'CMD ["uv", "run", "python", "-m", "app"]\n',
        {"pyproject.toml": project, "uv.lock": UV_LOCK},
    )
    runtime = runtime_of(text)
    assert "COPY --from=builder /app/.venv /app/.venv" in runtime
    assert "/.venv /.venv" not in runtime
    # The first sync fills the venv the second one completes.
    builder = text.rpartition("\nFROM ")[0]
    assert builder.index("UV_PROJECT_ENVIRONMENT=/app/.venv") < builder.index("--no-install-project")


def test_an_install_into_a_bind_mount_of_the_project_is_refused(tmp_path: Path) -> None:
    # A public Poetry Dockerfile: `RUN --mount=type=bind,target=.,source=. poetry install` with
    # virtualenvs.create false; an in-project venv would go into the read-only bind mount.
    project = (
        '[tool.poetry]\nname = "app"\nversion = "0.1.0"\ndescription = ""\nauthors = []\n\n'
        '[tool.poetry.dependencies]\npython = "^3.12"\nclick = "*"\n\n'
        '[tool.poetry.group.dev.dependencies]\npytest = "*"\n'
    )
    (tmp_path / "pyproject.toml").write_text(project)
    (tmp_path / "poetry.lock").write_text('[metadata]\nlock-version = "2.0"\n')
    (tmp_path / "Dockerfile").write_text(
        "# syntax=docker/dockerfile:1\nFROM python:3.12\nWORKDIR /code\nENV POETRY_VIRTUALENVS_CREATE=false\n"
        "RUN pip install --no-cache-dir poetry==1.8.5\n"
        "RUN --mount=type=bind,target=.,source=. poetry install\n"
        'CMD ["/bin/bash"]\n'
    )
    with pytest.raises(FixRefused, match="bind mount on /code"):
        run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY)


def test_bind_mounts_of_the_dependency_files_alone_are_no_obstacle(tmp_path: Path) -> None:
    project = '[project]\nname = "app"\nversion = "1"\ndependencies = ["click"]\n'
    text = fix(
        tmp_path,
        "FROM python:3.12-slim\nCOPY --from=ghcr.io/astral-sh/uv:0.5.7 /uv /bin/\nWORKDIR /app\n"
        "RUN --mount=type=bind,source=uv.lock,target=uv.lock \\\n"
        "    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\\n"
        "    uv sync --locked --no-install-project\n"
        "COPY . .\nRUN uv sync --locked\n",
        {"pyproject.toml": project, "uv.lock": UV_LOCK},
    )
    assert "COPY --from=builder /app/.venv /app/.venv" in runtime_of(text)


@pytest.mark.parametrize(
    ("base", "requires", "copied"),
    [
        ("python:3.11-slim", ">=3.13", True),
        ("python:3.11-slim", "~=3.12.1", True),
        ("python:3.13-slim", ">=3.13", False),
        ("python:3.12-slim", ">=3.11.6,<4", False),
    ],
)
def test_a_python_uv_downloads_for_requires_python_goes_to_the_runtime(
    tmp_path: Path, base: str, requires: str, copied: bool
) -> None:
    # zephyr363/subsciption_platform_api: requires-python >=3.13 on python:3.11-slim, so uv
    # sync downloads a Python 3.13 that the venv links to; the runtime lacked it.
    project = (
        f'[project]\nname = "app"\nversion = "1"\nrequires-python = "{requires}"\ndependencies = ["click"]\n'
    )
    text = fix(
        tmp_path,
        f"FROM {base}\nRUN pip install --no-cache-dir uv\nWORKDIR /app\nCOPY pyproject.toml uv.lock ./\n"
        "RUN uv sync --frozen --no-dev\nCOPY . .\n",
        {"pyproject.toml": project, "uv.lock": UV_LOCK},
    )
    line = "COPY --from=builder /root/.local/share/uv/python /root/.local/share/uv/python"
    assert (line in runtime_of(text)) is copied


UV_DEV = '[project]\nname = "app"\nversion = "1"\ndependencies = ["click"]\n\n[dependency-groups]\ndev = ["pytest"]\n'


@pytest.mark.parametrize("module", ["-m", "--module"])
def test_uv_run_module_becomes_python_module(tmp_path: Path, module: str) -> None:
    # PierreLapolla/python_template: ENTRYPOINT ["uv", "run", "-m", "src.app"] became
    # ["src.app"], a program that does not exist.
    text = fix(
        tmp_path,
        "FROM python:3.13-slim\nCOPY --from=ghcr.io/astral-sh/uv:0.7.13 /uv /bin/\nWORKDIR /app\n"
        f'COPY pyproject.toml uv.lock ./\nRUN uv sync --frozen\nCOPY . .\nENTRYPOINT ["uv", "run", "{module}", "src.app"]\n',
        {"pyproject.toml": UV_DEV, "uv.lock": UV_LOCK},
    )
    assert 'ENTRYPOINT ["python", "-m", "src.app"]' in runtime_of(text)


def test_uv_run_module_in_a_shell_form_becomes_python_module(tmp_path: Path) -> None:
    text = fix(
        tmp_path,
        "FROM python:3.13-slim\nCOPY --from=ghcr.io/astral-sh/uv:0.7.13 /uv /bin/\nWORKDIR /app\n"
        "COPY pyproject.toml uv.lock ./\nRUN uv sync --frozen\nCOPY . .\nCMD uv run -m app --port 80\n",
        {"pyproject.toml": UV_DEV, "uv.lock": UV_LOCK},
    )
    assert "CMD python -m app --port 80" in runtime_of(text)


def test_the_install_stays_after_a_user_change(tmp_path: Path) -> None:
    # PierreLapolla/python_template: `COPY --chown=appuser . /app`, `WORKDIR /app`, `USER
    # appuser`, `RUN uv sync`: the dependencies moved before the COPY installed as root into a
    # root-owned /app/.venv that appuser's `uv sync` then could not write.
    text = fix(
        tmp_path,
        "FROM python:3.13-slim\nRUN useradd -m appuser\nCOPY --from=ghcr.io/astral-sh/uv:0.7.13 /uv /bin/\n"
        "COPY --chown=appuser:appuser . /app\nWORKDIR /app\nUSER appuser\nRUN uv sync\n"
        'ENTRYPOINT ["python", "-m", "app"]\n',
        {"pyproject.toml": UV_DEV, "uv.lock": UV_LOCK},
    )
    builder = text.rpartition("\nFROM ")[0]
    assert "--no-install-project" not in builder
    assert builder.index("USER appuser") < builder.index("RUN uv sync")


def test_an_install_as_another_user_gets_no_root_owned_cache_mount(tmp_path: Path) -> None:
    # LOSLC/openforms: `USER runner` then `uv sync` in a BuildKit file; a cache mount is root's,
    # and runner's uv could not write it.
    dockerfile = (
        "# syntax=docker/dockerfile:1\nFROM python:3.13-slim\nCOPY --from=ghcr.io/astral-sh/uv:0.7.13 /uv /bin/\n"
        "RUN useradd -m runner\n{user}WORKDIR /home/runner/app\nCOPY . .\nRUN uv sync\n"
        'CMD ["python", "-m", "app"]\n'
    )
    text = fix(
        tmp_path, dockerfile.format(user="USER runner\n"), {"pyproject.toml": UV_DEV, "uv.lock": UV_LOCK}
    )
    assert "--mount=type=cache" not in text and "UV_NO_CACHE=1" in text
    text = fix(tmp_path, dockerfile.format(user=""), {"pyproject.toml": UV_DEV, "uv.lock": UV_LOCK})
    assert "--mount=type=cache,target=/root/.cache/uv" in text


@pytest.mark.parametrize(
    ("start", "script"),
    [
        ('CMD ["bash", "./entry.bash"]', "entry.bash"),
        ('ENTRYPOINT ["./docker-entrypoint.sh"]', "docker-entrypoint.sh"),
        ("CMD sh scripts/start.sh", "scripts/start.sh"),
    ],
)
def test_a_start_script_that_calls_the_tool_is_refused(tmp_path: Path, start: str, script: str) -> None:
    # LOSLC/openforms: CMD ["bash", "./entry.bash"], whose last line is `uv run main.py`: the
    # runtime fix wrote has no uv.
    for name, text in {
        "pyproject.toml": UV_DEV,
        "uv.lock": UV_LOCK,
        script: "#!/bin/sh\n# uv run is not used here\nalembic upgrade head\nexec uv run main.py\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.13-slim\nCOPY --from=ghcr.io/astral-sh/uv:0.7.13 /uv /bin/\nWORKDIR /app\n"
        f"COPY . .\nRUN uv sync --frozen\n{start}\n"
    )
    with pytest.raises(FixRefused, match=r"line 4 calls `uv`"):
        run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY)


def test_a_start_script_that_uses_the_venv_is_no_obstacle(tmp_path: Path) -> None:
    text = fix(
        tmp_path,
        "FROM python:3.13-slim\nCOPY --from=ghcr.io/astral-sh/uv:0.7.13 /uv /bin/\nWORKDIR /app\n"
        'COPY . .\nRUN uv sync --frozen\nENTRYPOINT ["./entrypoint.sh"]\n',
        {
            "pyproject.toml": UV_DEV,
            "uv.lock": UV_LOCK,
            "entrypoint.sh": "#!/bin/sh\n. .venv/bin/activate  # no uv run here\nexec python -m app\n",
        },
    )
    assert 'ENTRYPOINT ["./entrypoint.sh"]' in runtime_of(text)

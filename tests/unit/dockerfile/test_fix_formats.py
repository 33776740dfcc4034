"""`imgaudit fix` on uv, PDM and Pipenv builds: each tool's Docker guidance, with the same
guarantees as for Poetry (everything kept, nothing dangling, the output passes its own lint)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from imgaudit.dockerfile.commands import run_fix
from imgaudit.dockerfile.fix import FixRefused
from imgaudit.dockerfile.verify import start_problems
from tests.unit.dockerfile.test_fix import passes_its_own_lint

TODAY = dt.date(2026, 12, 1)
PEP735 = '[project]\nname = "app"\nversion = "1"\ndependencies = ["click"]\n\n[dependency-groups]\ndev = ["pytest"]\n'
PIPFILE = '[packages]\nclick = "*"\n\n[dev-packages]\npytest = "*"\n'


@dataclass(frozen=True)
class Tool:
    name: str
    files: dict[str, str]
    pip: str  # how the naive file installs the tool
    install: str  # the naive install (dev included)
    fixed_install: str  # what fix makes of it
    cache: tuple[str, ...]  # what keeps the cache out of the layer without BuildKit
    mount: str  # the cache mount with BuildKit
    run: str  # `TOOL run`


TOOLS = {
    "uv": Tool(
        "uv",
        {"pyproject.toml": PEP735, "uv.lock": "version = 1\n"},
        "pip install uv",
        "uv sync",
        "uv sync --locked --no-dev",
        ("UV_NO_CACHE=1",),
        "--mount=type=cache,target=/root/.cache/uv",
        "uv run",
    ),
    "pdm": Tool(
        "pdm",
        {"pyproject.toml": PEP735, "pdm.lock": "[metadata]\n"},
        "pip install pdm",
        "pdm install",
        "pdm install --check --prod",
        ("PDM_CACHE_DIR=/tmp/pdm_cache", "&& rm -rf $PDM_CACHE_DIR"),
        "--mount=type=cache,target=/root/.cache/pdm",
        "pdm run",
    ),
    "pipenv": Tool(
        "pipenv",
        {"Pipfile": PIPFILE, "Pipfile.lock": "{}\n"},
        "pip install pipenv",
        "pipenv install --dev",
        "pipenv install --deploy",
        ("PIPENV_CACHE_DIR=/tmp/pipenv_cache", "&& rm -rf $PIPENV_CACHE_DIR"),
        "--mount=type=cache,target=/root/.cache/pipenv",
        "pipenv run",
    ),
}
NAMES = sorted(TOOLS)


def fixed(directory: Path, dockerfile: str, tool: Tool) -> tuple[str, str]:
    """(builder, runtime) of the fixed file, after checking what every fix must hold."""
    for name, text in tool.files.items():
        (directory / name).write_text(text)
    (directory / "Dockerfile").write_text(dockerfile)
    text = run_fix(directory / "Dockerfile", directory, None, TODAY).result.text
    passes_its_own_lint(text, directory)
    builder, _, runtime = text.rpartition("\nFROM ")
    return builder, "FROM " + runtime


@pytest.mark.parametrize("name", NAMES)
def test_a_naive_single_stage_becomes_builder_and_runtime(tmp_path: Path, name: str) -> None:
    tool = TOOLS[name]
    builder, runtime = fixed(
        tmp_path,
        f"FROM python:3.12-bookworm\nRUN {tool.pip}\nWORKDIR /app\nCOPY . .\nRUN {tool.install}\n"
        f'CMD ["{tool.run.split()[0]}", "run", "python", "-m", "app"]\n',
        tool,
    )
    assert f"RUN {tool.fixed_install}" in builder
    assert all(part in builder for part in tool.cache)  # the cache stays out of the layer
    assert "--mount" not in builder  # the legacy builder could not build it
    assert runtime.startswith("FROM python:3.12-slim-bookworm AS runtime")
    assert "COPY --from=builder /app/.venv /app/.venv" in runtime
    assert 'PATH="/app/.venv/bin:$PATH"' in runtime and "COPY . /app" in runtime
    assert 'CMD ["python", "-m", "app"]' in runtime  # `TOOL run` dropped: the venv is on PATH
    assert name not in runtime.replace("/app", "")


def test_uv_follows_its_guide_dependencies_first(tmp_path: Path) -> None:
    builder, _ = fixed(
        tmp_path,
        "FROM python:3.12-slim\nRUN pip install uv\nWORKDIR /app\nCOPY . .\nRUN uv sync\n",
        TOOLS["uv"],
    )
    # No bytecode the original did not have: the plan's estimate holds no .pyc files (uv
    # compiled 2.57 MB of them for 2.46 MB of packages, a third of a dev-only saving).
    assert "UV_COMPILE_BYTECODE" not in builder and "UV_LINK_MODE=copy" in builder
    order = [
        "COPY pyproject.toml uv.lock ./",
        "RUN uv sync --locked --no-dev --no-install-project",
        "COPY . .",
        "RUN uv sync --locked --no-dev\n",
    ]
    positions = [(builder + "\n").index(line) for line in order]
    assert positions == sorted(positions), builder


def test_pdm_installs_its_dependencies_first_without_itself(tmp_path: Path) -> None:
    builder, _ = fixed(
        tmp_path,
        "FROM python:3.12\nRUN pip install pdm\nWORKDIR /src\nCOPY --chown=1000 . /src\nRUN pdm install\n",
        TOOLS["pdm"],
    )
    assert (
        "COPY --chown=1000 pyproject.toml pdm.lock /src/\nRUN pdm install --check --prod --no-self" in builder
    )


@pytest.mark.parametrize("name", NAMES)
def test_with_buildkit_syntax_the_cache_is_a_mount(tmp_path: Path, name: str) -> None:
    tool = TOOLS[name]
    builder, _ = fixed(
        tmp_path,
        f"# syntax=docker/dockerfile:1\nFROM python:3.12-slim\nRUN {tool.pip}\nWORKDIR /app\n"
        f"COPY . .\nRUN {tool.install}\n",
        tool,
    )
    assert builder.startswith("# syntax=docker/dockerfile:1\n")
    assert f"RUN {tool.mount} {tool.fixed_install}" in builder
    assert not any(part in builder for part in tool.cache)


@pytest.mark.parametrize("name", NAMES)
def test_an_already_multi_stage_build_keeps_its_runtime(tmp_path: Path, name: str) -> None:
    tool = TOOLS[name]
    venv = "ENV PIPENV_VENV_IN_PROJECT=1\n" if name == "pipenv" else ""
    runtime_stage = (
        "FROM python:3.12-slim AS final\nLABEL team=web\nWORKDIR /app\n"
        "COPY --from=build /app/.venv /app/.venv\nCOPY app/ ./app/\n"
        'ENV PATH="/app/.venv/bin:$PATH"\nCMD ["python", "-m", "app"]\n'
    )
    builder, runtime = fixed(
        tmp_path,
        f"FROM python:3.12 AS build\nRUN {tool.pip}\n{venv}WORKDIR /app\nCOPY . .\nRUN {tool.install}\n\n"
        + runtime_stage,
        tool,
    )
    assert runtime.strip() == runtime_stage.strip()  # nothing in it to change
    assert f"RUN {tool.fixed_install}" in builder


@pytest.mark.parametrize("name", NAMES)
def test_a_runtime_built_from_the_builder_gets_a_fresh_base(tmp_path: Path, name: str) -> None:
    tool = TOOLS[name]
    _, runtime = fixed(
        tmp_path,
        f"FROM python:3.11 AS builder\nRUN {tool.pip}\nWORKDIR /app\nCOPY . .\nRUN {tool.install}\n"
        'FROM builder AS web\nEXPOSE 8000\nCMD ["gunicorn", "app:wsgi"]\n',
        tool,
    )
    assert runtime.startswith("FROM python:3.11-slim AS web")
    assert "COPY --from=builder /app/.venv /app/.venv" in runtime
    assert "EXPOSE 8000" in runtime and 'CMD ["gunicorn", "app:wsgi"]' in runtime


@pytest.mark.parametrize("name", NAMES)
def test_users_entrypoint_args_env_and_runtime_apt_packages_are_carried(tmp_path: Path, name: str) -> None:
    tool = TOOLS[name]
    builder, runtime = fixed(
        tmp_path,
        f"""\
FROM python:3.12-slim-bookworm
ARG RELEASE=1
ENV PYTHONUNBUFFERED=1 {name.upper()}_NOISE=1
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev gcc curl \\
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home app
RUN {tool.pip}
WORKDIR /srv
COPY docker-entrypoint.sh /usr/local/bin/
COPY . .
RUN {tool.install}
USER app
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["{tool.run.split()[0]}", "run", "serve"]
""",
        tool,
    )
    assert "gcc" in builder and "gcc" not in runtime
    assert "install -y --no-install-recommends libpq5 curl" in runtime
    assert "RUN useradd --create-home app" in runtime and "USER app" in runtime
    assert "ARG RELEASE=1" in runtime and "PYTHONUNBUFFERED=1" in runtime
    assert f"{name.upper()}_NOISE" not in runtime  # the tool's settings stay with the tool
    assert "COPY --from=builder /srv/.venv /srv/.venv" in runtime
    assert "COPY docker-entrypoint.sh /usr/local/bin/" in runtime
    assert 'ENTRYPOINT ["docker-entrypoint.sh"]' in runtime and 'CMD ["serve"]' in runtime


def test_pipenv_system_installs_go_to_a_venv_in_the_project(tmp_path: Path) -> None:
    builder, runtime = fixed(
        tmp_path,
        "FROM python:3.12\nWORKDIR /code\nCOPY . .\nRUN pip install pipenv && pipenv install --system --deploy\n"
        'CMD ["python", "main.py"]\n',
        TOOLS["pipenv"],
    )
    assert "PIPENV_VENV_IN_PROJECT=1" in builder and "--system" not in builder
    assert "COPY --from=builder /code/.venv /code/.venv" in runtime


def test_uv_project_environment_outside_the_project_is_moved(tmp_path: Path) -> None:
    builder, runtime = fixed(
        tmp_path,
        "FROM python:3.12\nENV UV_PROJECT_ENVIRONMENT=/usr/local\nRUN pip install uv\nWORKDIR /app\n"
        "COPY pyproject.toml uv.lock ./\nRUN uv sync --frozen\nCOPY . .\n",
        TOOLS["uv"],
    )
    assert "UV_PROJECT_ENVIRONMENT=/app/.venv" in builder and "uv sync --no-dev --frozen" in builder
    assert "COPY --from=builder /app/.venv /app/.venv" in runtime


def test_a_uv_image_with_python_gives_the_python_image_it_is_built_on(tmp_path: Path) -> None:
    _, runtime = fixed(
        tmp_path,
        "FROM ghcr.io/astral-sh/uv:0.5.2-python3.12-bookworm-slim\nWORKDIR /app\nCOPY . .\nRUN uv sync --frozen\n",
        TOOLS["uv"],
    )
    assert runtime.startswith("FROM python:3.12-slim-bookworm AS runtime")


@pytest.mark.parametrize(
    ("name", "dockerfile", "reason"),
    [
        (
            "pdm",
            "FROM python:3.12\nRUN pip install pdm\nWORKDIR /app\nCOPY . .\n"
            "RUN mkdir __pypackages__ && pdm install --prod\n",
            "__pypackages__",
        ),
        ("uv", "FROM ghcr.io/astral-sh/uv:bookworm-slim\nCOPY . .\nRUN uv sync\n", "carries uv"),
        (
            "pipenv",
            "FROM python:3.12\nRUN pip install pipenv\nRUN if [ -f dev.txt ]; then pipenv install --dev; fi\n",
            "inside a shell condition",
        ),
    ],
)
def test_what_cannot_be_fixed_safely_is_refused_in_one_line(
    tmp_path: Path, name: str, dockerfile: str, reason: str
) -> None:
    with pytest.raises(FixRefused, match=reason) as refused:
        fixed(tmp_path, dockerfile, TOOLS[name])
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (["uv", "run", "--no-dev", "--with", "rich", "python", "-m", "app"], ["python", "-m", "app"]),
        (["pdm", "run", "uvicorn", "app:app"], ["uvicorn", "app:app"]),
        (["pipenv", "run", "gunicorn"], ["gunicorn"]),
        (["poetry", "run", "serve"], ["serve"]),
    ],
)
def test_verify_takes_the_runtime_command_without_the_tools_run(before: list[str], after: list[str]) -> None:
    """`fix --verify` compares the start commands as the runtime runs them (no tool there)."""
    assert start_problems({"Cmd": before}, {"Cmd": after}) == []
    assert start_problems({"Cmd": before}, {"Cmd": before}) != []  # still through the tool: a change


def test_uv_keeps_the_bytecode_the_original_compiles(tmp_path: Path) -> None:
    builder, _ = fixed(
        tmp_path,
        "FROM python:3.12-slim\nRUN pip install uv\nENV UV_COMPILE_BYTECODE=1\nWORKDIR /app\n"
        "COPY . .\nRUN uv sync\n",
        TOOLS["uv"],
    )
    assert "UV_COMPILE_BYTECODE=1" in builder


# A system install leaves no venv to measure: the plan's runtime set is the app's distributions
# alone, so the venv fix makes must hold nothing else. Measured on a real Pipenv build: the
# venv virtualenv seeds (pip, setuptools) added 9.2 MB that the plan did not count.
UNSEEDED = {
    "pipenv": ("VIRTUALENV_NO_PIP=1", "VIRTUALENV_NO_SETUPTOOLS=1", "VIRTUALENV_NO_WHEEL=1"),
    "poetry": ("POETRY_VIRTUALENVS_OPTIONS_NO_PIP=true", "POETRY_VIRTUALENVS_OPTIONS_NO_SETUPTOOLS=true"),
}
POETRY_PROJECT = {
    "pyproject.toml": '[tool.poetry]\nname = "app"\nversion = "1"\ndescription = ""\nauthors = []\n\n'
    '[tool.poetry.dependencies]\npython = "^3.11"\nclick = "*"\n'
}


@pytest.mark.parametrize(
    ("name", "install", "files"),
    [
        ("pipenv", "pipenv install --system --deploy", TOOLS["pipenv"].files),
        ("poetry", "poetry config virtualenvs.create false && poetry install --only main", POETRY_PROJECT),
    ],
)
def test_a_system_install_moves_into_a_venv_without_pip_or_setuptools(
    tmp_path: Path, name: str, install: str, files: dict[str, str]
) -> None:
    tool = Tool(name, files, f"pip install {name}", install, "", (), "", "")
    builder, runtime = fixed(
        tmp_path,
        f'FROM python:3.11-slim\nRUN pip install {name}\nWORKDIR /app\nCOPY . .\nRUN {install}\nCMD ["python", "-m", "app"]\n',
        tool,
    )
    assert all(setting in builder for setting in UNSEEDED[name]), builder
    assert "COPY --from=builder /app/.venv /app/.venv" in runtime


@pytest.mark.parametrize(
    "install", ["pipenv install --deploy", "PIPENV_VENV_IN_PROJECT=1 pipenv install --deploy"]
)
def test_a_venv_the_original_made_keeps_its_seed_packages(tmp_path: Path, install: str) -> None:
    """The plan measured that venv, pip and all: the fixed one must be the same."""
    builder, _ = fixed(
        tmp_path,
        f'FROM python:3.11-slim\nRUN pip install pipenv\nWORKDIR /app\nCOPY . .\nRUN {install}\nCMD ["python", "-m", "app"]\n',
        TOOLS["pipenv"],
    )
    assert "VIRTUALENV_NO_PIP" not in builder

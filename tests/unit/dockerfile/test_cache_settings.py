"""What keeps a tool's cache out of a layer, as the tools behave (not as their flags read).

- Poetry downloads every wheel through its artifact cache (`$POETRY_CACHE_DIR/artifacts`):
  `poetry install --no-cache` turns off the repositories' metadata cache only, and
  `poetry cache clear NAME --all` empties `cache/repositories/NAME` only (python-poetry/poetry
  #3374 and #6445; console/commands/cache/clear.py). Neither keeps the wheels out.
- pip reads `no-cache-dir` from its config files: `pip config set global.no-cache-dir true` in an
  earlier RUN (or a pip.conf the build writes) turns the cache off for every later pip, and pip
  takes any valid value as "off", `false` included (pip's `_handle_no_cache_dir`).
"""

from __future__ import annotations

import datetime as dt

import pytest

from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.lint import lint
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject

TODAY = dt.date(2026, 12, 1)


def findings(text: str) -> set[str]:
    return {
        f"{h.id}:{h.line}"
        for h in lint(read_build(parse_dockerfile(text), ContextProject(), None, {}), TODAY)
    }


POETRY = "FROM python:3.12-slim\nRUN pip install --no-cache-dir poetry==1.8.5\nWORKDIR /app\nCOPY pyproject.toml poetry.lock ./\n"


@pytest.mark.parametrize(
    "install",
    [
        "poetry install --only main --no-root --no-cache",
        "poetry --no-cache install --only main",
        "poetry install --only main && poetry cache clear pypi --all -n",
        "poetry install --only main && poetry cache clear --all --no-interaction .",
        "poetry install --only main --no-cache && poetry cache clear --all -n .",
        # A mount over a part of the cache: the wheels go to artifacts/, outside it.
        "--mount=type=cache,target=/root/.cache/pypoetry/cache poetry install --only main",
    ],
)
def test_poetry_s_wheels_stay_in_the_layer(install: str) -> None:
    assert "poetry-cache-in-layer:5" in findings(f"{POETRY}RUN {install}\n")


@pytest.mark.parametrize(
    "install",
    [
        "poetry install --only main && rm -rf /root/.cache/pypoetry",
        "--mount=type=cache,target=/root/.cache/pypoetry poetry install --only main",
        "--mount=type=cache,target=/root/.cache poetry install --only main",
    ],
)
def test_poetry_s_cache_removed_or_mounted_is_not_flagged(install: str) -> None:
    assert "poetry-cache-in-layer:5" not in findings(f"{POETRY}RUN {install}\n")


PIP = "FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\n"


@pytest.mark.parametrize(
    "setting",
    [
        "RUN pip config set global.no-cache-dir true\n",
        "RUN pip config set global.no-cache-dir false\n",  # pip: any valid value turns it off
        "RUN python -m pip config --global set install.no-cache-dir 1\n",
        "RUN printf '[global]\\nno-cache-dir = true\\n' > /etc/pip.conf\n",
    ],
)
def test_pip_s_config_file_turns_its_cache_off_for_the_runs_after(setting: str) -> None:
    text = f"{PIP}{setting}RUN pip install -r requirements.txt\n"
    assert not any(f.startswith("pip-cache-in-layer") for f in findings(text))


def test_pip_config_set_in_the_same_run_counts() -> None:
    text = f"{PIP}RUN pip config set global.no-cache-dir true && pip install -r requirements.txt\n"
    assert not any(f.startswith("pip-cache-in-layer") for f in findings(text))


@pytest.mark.parametrize(
    "setting",
    ["RUN pip config set global.index-url https://example.org/simple\n", "RUN pip config list\n", ""],
)
def test_other_pip_settings_leave_the_cache_on(setting: str) -> None:
    text = f"{PIP}{setting}RUN pip install -r requirements.txt\n"
    assert any(f.startswith("pip-cache-in-layer") for f in findings(text))

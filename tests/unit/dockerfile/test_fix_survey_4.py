"""`imgaudit fix` on the patterns of a fourth held-out survey of public Dockerfiles: each test
reproduces, in a file of our own, one class of wrong edit found there, and checks, through the
build model reading the fixed file back, what the fixed build does."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgaudit.dockerfile.build import (
    Build,
    StageModel,
    installs_os_packages,
    os_packages,
    poetry_requirements,
    read_build,
)
from imgaudit.dockerfile.project import read_context
from imgaudit.dockerfile.shell import Command
from tests.unit.dockerfile.test_fix import passes_its_own_lint
from tests.unit.dockerfile.test_fix_survey import POETRY_DEV, UV_PROJECT, fix

POETRY_FILES = {"pyproject.toml": POETRY_DEV, "poetry.lock": '[metadata]\nlock-version = "2.0"\n'}
POETRY_BUILDER = (
    "FROM python:3.11\nRUN pip install --no-cache-dir poetry==1.8.5\nWORKDIR /app\nCOPY . .\n"
    "RUN POETRY_VIRTUALENVS_IN_PROJECT=1 poetry install --without dev --no-root\n"
)


def _fixed_build(text: str, directory: Path) -> Build:
    return read_build(passes_its_own_lint(text, directory), read_context(directory))


def _apt_verb(command: Command) -> str | None:
    if command.name not in ("apt", "apt-get"):
        return None
    return next((w for w in command.words[1:] if not w.startswith("-")), None)


def _apt_commands_without_lists(stage: StageModel) -> list[str]:
    """The apt commands of the stage that read the package lists when none are there (the
    stage's base has none; `update` fetches them, `rm -rf /var/lib/apt/lists/*` deletes them)."""
    fetched, failing = False, []
    for step in stage.runs:
        for command in step.commands:
            verb = _apt_verb(command)
            if verb == "update":
                fetched = True
            elif verb == "install" and not fetched:
                failing.append(" ".join(command.words))
            if command.name == "rm" and any(w.startswith("/var/lib/apt/lists") for w in command.words):
                fetched = False
    return failing


@pytest.mark.parametrize(
    "runtime",
    [
        # min-2: the update and the install in RUNs of their own.
        "RUN apt update\nRUN apt install -y git\n",
        "RUN apt-get update && echo updated\nCOPY entrypoint.sh /\nRUN apt-get install -y git\n",
        "RUN apt-get update\nRUN apt-get install -y git\nRUN apt-get install -y curl\n",
        "RUN apt-get update\nRUN <<EOF\napt-get install -y git\nEOF\n",
    ],
)
def test_apt_s_lists_are_removed_only_after_the_last_install_that_reads_them(
    tmp_path: Path, runtime: str
) -> None:
    text = fix(tmp_path, POETRY_BUILDER + runtime + 'CMD ["python", "-m", "app"]\n', POETRY_FILES)
    fixed = _fixed_build(text, tmp_path)
    assert _apt_commands_without_lists(fixed.final) == []
    installed = [
        w for s in fixed.final.runs for c in s.commands if _apt_verb(c) == "install" for w in c.words[2:]
    ]
    assert {"git"} <= set(installed)


def _runtime_os_packages(build: Build) -> set[str]:
    return {
        p for s in build.final.runs for c in s.commands if installs_os_packages(c) for p in os_packages(c)
    }


@pytest.mark.parametrize(
    ("base", "install", "needed"),
    [
        # min-7: a C++ extension built with Alpine's g++ loads libstdc++.so.6 (and libgcc_s).
        ("python:3.12-alpine", "apk add --no-cache g++ libffi-dev", {"libstdc++", "libgcc", "libffi"}),
        ("python:3.12-alpine", "apk add --no-cache build-base", {"libstdc++", "libgcc"}),
        # Debian's slim image has libstdc++6 already (apt itself links it): nothing to add.
        ("python:3.12", "apt-get update && apt-get install -y --no-install-recommends g++", set()),
    ],
)
def test_what_the_builder_s_compiler_builds_finds_its_runtime_library(
    tmp_path: Path, base: str, install: str, needed: set[str]
) -> None:
    dockerfile = (
        f"FROM {base}\nRUN {install} && pip install --no-cache-dir poetry==1.8.5\nWORKDIR /app\nCOPY . .\n"
        "RUN POETRY_VIRTUALENVS_IN_PROJECT=1 poetry install --without dev --no-root\n"
        'CMD ["python", "-m", "app"]\n'
    )
    fixed = _fixed_build(fix(tmp_path, dockerfile, POETRY_FILES), tmp_path)
    assert _runtime_os_packages(fixed) == needed


def _runtime_commands(build: Build) -> list[str]:
    return [c.name for s in build.final.runs for c in s.commands]


@pytest.mark.parametrize(
    ("setup", "needed"),
    [
        # min-6: the user and Poetry's installer in one RUN.
        (
            "RUN useradd -r app && curl -sSL https://install.python-poetry.org | python3 -\n",
            ["useradd"],
        ),
        # retriever: the user's group and user with the installer, then the directory its cache
        # goes to, handed to that user, in a RUN of its own.
        (
            "RUN groupadd -r user && useradd -r -g user user && \\\n"
            "    curl -sSL https://install.python-poetry.org | python3 -\n"
            "RUN mkdir -p /home/user/.cache/huggingface && \\\n"
            "    chown -R user:user /home/user/.cache/huggingface\n",
            ["groupadd", "useradd", "mkdir", "chown"],
        ),
        (
            "RUN curl -sSL https://install.python-poetry.org | python3 - ; mkdir -p /data "
            "&& useradd app && chown app /data\n",
            ["mkdir", "useradd", "chown"],
        ),
    ],
)
def test_the_runtime_gets_the_users_and_directories_of_a_run_not_the_tool_s_installer(
    tmp_path: Path, setup: str, needed: list[str]
) -> None:
    dockerfile = (
        "FROM python:3.12\n" + setup + "ENV PATH=/root/.local/bin:$PATH POETRY_VIRTUALENVS_IN_PROJECT=1\n"
        "WORKDIR /app\nCOPY . .\nRUN poetry install --without dev --no-root\n"
        'CMD ["python", "-m", "app"]\n'
    )
    fixed = _fixed_build(fix(tmp_path, dockerfile, POETRY_FILES), tmp_path)
    assert _runtime_commands(fixed) == needed


POETRY_2_PROJECT = (
    '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.9"\ndependencies = ["flask>=3"]\n\n'
    '[tool.poetry]\npackage-mode = false\n\n[tool.poetry.group.dev.dependencies]\npytest = "*"\n'
)


def _pinned_poetry(build: Build) -> tuple[int, ...]:
    specs = [m["spec"].strip() for s in build.stages for r in s.runs for _, m in poetry_requirements(r)]
    assert len(specs) == 1 and specs[0].startswith("=="), specs
    return tuple(int(p) for p in specs[0][2:].split("."))


@pytest.mark.parametrize(
    ("python", "files", "major"),
    [
        # Poetry 2's layout: the dependencies in [project]; Poetry 1.8 would install none of them.
        ("3.12", {"pyproject.toml": POETRY_2_PROJECT}, 2),
        # A lock Poetry 2 wrote (lock-version 2.1).
        ("3.12", {"pyproject.toml": POETRY_DEV, "poetry.lock": '[metadata]\nlock-version = "2.1"\n'}, 2),
        # Poetry 1's layout, a lock Poetry 1.3-1.8 wrote, or nothing known: 1.8.5, which reads them.
        ("3.12", {"pyproject.toml": POETRY_DEV, "poetry.lock": '[metadata]\nlock-version = "2.0"\n'}, 1),
        ("3.12", {"pyproject.toml": POETRY_DEV}, 1),
        ("3.12", {}, 1),
        # Poetry 2 does not run on Python 3.8.
        ("3.8", {"pyproject.toml": POETRY_2_PROJECT}, 1),
    ],
)
def test_an_unpinned_poetry_is_pinned_to_the_major_version_the_project_is_written_for(
    tmp_path: Path, python: str, files: dict[str, str], major: int
) -> None:
    dockerfile = (
        f"FROM python:{python}\nRUN pip install poetry\nWORKDIR /app\nCOPY . .\n"
        "RUN POETRY_VIRTUALENVS_IN_PROJECT=1 poetry install --no-root\n"
        'CMD ["python", "-m", "app"]\n'
    )
    fixed = _fixed_build(fix(tmp_path, dockerfile, files), tmp_path)
    assert _pinned_poetry(fixed)[0] == major


UV_FILES = {"pyproject.toml": UV_PROJECT, "uv.lock": "version = 1\n"}
UV = "COPY --from=ghcr.io/astral-sh/uv:0.9.26 /uv /bin/\n"


def _copied_from_builder(build: Build) -> set[str]:
    return {src for c in build.final.copies if c.source_stage is not None for src in c.sources}


@pytest.mark.parametrize(
    ("head", "managed"),
    [
        # min-5: no Python in the image: uv downloads one, and the venv's python links to it.
        ("FROM ubuntu:24.04\n" + UV, "/root/.local/share/uv/python"),
        ("FROM debian:bookworm-slim\n" + UV + "ENV UV_PYTHON_INSTALL_DIR=/python\n", "/python"),
        # A Python installed by uv on an image that has one: uv prefers its own.
        ("FROM python:3.12\n" + UV + "RUN uv python install 3.13\n", "/root/.local/share/uv/python"),
        ("FROM python:3.12\n" + UV + "ENV UV_PYTHON_PREFERENCE=only-managed\n", "/root/.local/share/uv/python"),
        # The image's own Python: nothing of uv's to copy.
        ("FROM python:3.12\n" + UV, None),
        ("FROM ubuntu:24.04\n" + UV + "RUN apt-get update && apt-get install -y python3 "
         "&& rm -rf /var/lib/apt/lists/*\n", None),
    ],
)  # fmt: skip
def test_the_runtime_gets_the_python_uv_installed_where_the_venv_links_to_it(
    tmp_path: Path, head: str, managed: str | None
) -> None:
    dockerfile = head + 'WORKDIR /app\nCOPY . .\nRUN uv sync --locked\nCMD ["python", "-m", "app"]\n'
    (tmp_path / "Dockerfile").write_text(dockerfile)
    fixed = _fixed_build(fix(tmp_path, dockerfile, UV_FILES), tmp_path)
    copied = _copied_from_builder(fixed)
    assert "/app/.venv" in copied
    if managed is None:
        assert not any("python" in path for path in copied)
    else:
        assert managed in copied

"""The three size and lint problems the third held-out survey (40 public Dockerfiles weighted to
uv, PDM, Pipenv and pip-tools) found and lint missed, each in a file of our own:

- a second virtual environment: `uv sync` run before WORKDIR was set makes `/.venv` (or one in
  the directory before), and the `uv sync` after `WORKDIR /app` makes `/app/.venv` from the
  same project: both ship (`duplicate-venv`, lint and the image advisor);
- pip-compile's cache (`~/.cache/pip-tools`, and pip's HTTP cache it fetches through) left in
  the layer (`pip-cache-in-layer`; the image side counts ~/.cache/pip-tools as pip's cache);
- end-of-life bases named by a patch release (`python:3.7.17-slim`, `python:3.8.18-bookworm`,
  `debian:10.13`): the Python and the Debian release a tag names, not only a Debian codename."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from imgaudit.dockerfile.commands import run_fix, run_lint
from imgaudit.dockerfile.poetry_versions import end_of_life
from tests.unit.dockerfile.test_fix import passes_its_own_lint

TODAY = dt.date(2026, 12, 1)
UV_PROJECT = (
    '[project]\nname = "app"\nversion = "0.1.0"\ndependencies = ["fastapi"]\n\n'
    '[dependency-groups]\ndev = ["pytest"]\n'
)


def lint_at(
    directory: Path, dockerfile: str, files: dict[str, str] | None = None, today: dt.date = TODAY
) -> list[tuple[int, str, str]]:
    """(line, id, message) of every finding `imgaudit lint --context` has for the Dockerfile."""
    for name, text in (files or {}).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    (directory / "Dockerfile").write_text(dockerfile)
    return [(h.line, h.id, h.message) for h in run_lint(directory / "Dockerfile", today, directory)]


# --- end-of-life bases named by a patch release ------------------------------------------------


@pytest.mark.parametrize(
    ("image", "ended"),
    [
        ("python:3.7.17-slim", ["Python 3.7"]),
        ("python:3.8.18-bookworm", ["Python 3.8"]),
        ("python:3.8.10", ["Python 3.8"]),
        ("python:3.6-alpine3.7", ["Python 3.6"]),
        ("python:2.7.18-slim", ["Python 2.7"]),
        ("python:2", ["Python 2.7"]),
        ("docker.io/library/python:3.9.18-slim@sha256:" + "a" * 64, ["Python 3.9"]),
        ("public.ecr.aws/docker/library/python:3.8-slim", ["Python 3.8"]),
        ("ghcr.io/astral-sh/uv:python3.8-bookworm-slim", ["Python 3.8"]),
        ("python:3.7-slim-buster", ["Python 3.7", "Debian 10 (buster)"]),
        ("python:3.11.4-slim-buster", ["Debian 10 (buster)"]),
        ("debian:10.13", ["Debian 10 (buster)"]),
        ("debian:10.13-slim", ["Debian 10 (buster)"]),
        ("debian:10", ["Debian 10 (buster)"]),
        ("debian:9-slim", ["Debian 9 (stretch)"]),
        ("debian:buster-20240612-slim", ["Debian 10 (buster)"]),
        ("debian:11.11", ["Debian 11 (bullseye)"]),  # LTS ended 2026-08-31
        ("python:3.10-slim", ["Python 3.10"]),  # ended October 2026
        # Supported: the patch release is read as one, not as another minor.
        ("python:3.12.7", []),
        ("python:3.12.7-slim-bookworm", []),
        ("python:3.13.0rc2-slim", []),
        ("python:3.11", []),
        ("python:3", []),
        ("python:latest", []),
        ("python:slim", []),
        ("python", []),
        ("debian:12.8", []),
        ("debian:bookworm-slim", []),
        ("debian:trixie", []),
        # Not the official image: its tag may mean anything.
        ("myteam/python:3.7", []),
        ("python-base", []),
    ],
)
def test_end_of_life_reads_python_and_debian_releases_from_the_tag(image: str, ended: list[str]) -> None:
    assert [e.what for e in end_of_life(image, TODAY)] == ended


def test_end_of_life_compares_with_the_day() -> None:
    assert end_of_life("python:3.10.14-slim", dt.date(2026, 6, 1)) == ()
    assert [e.what for e in end_of_life("python:3.10.14-slim", dt.date(2026, 11, 1))] == ["Python 3.10"]
    assert end_of_life("debian:11.11", dt.date(2026, 8, 31)) == ()


@pytest.mark.parametrize(
    ("base", "said"),
    [
        ("python:3.7.17-slim", "Python 3.7"),
        ("python:3.8.18-bookworm", "Python 3.8"),
        ("debian:10.13", "Debian 10 (buster)"),
    ],
)
def test_lint_flags_an_end_of_life_base_named_by_a_patch_release(
    tmp_path: Path, base: str, said: str
) -> None:
    found = lint_at(tmp_path, f"FROM {base}\nRUN echo hi\n")
    eol = [(line, message) for line, finding, message in found if finding == "end-of-life-base"]
    assert [line for line, _ in eol] == [1]
    assert said in eol[0][1] and "no longer gets security updates" in eol[0][1]


def test_lint_leaves_a_supported_patch_release_alone(tmp_path: Path) -> None:
    found = lint_at(tmp_path, "FROM python:3.12.7\nRUN echo hi\n", today=dt.date(2028, 6, 1))
    assert [f for f in found if f[1] == "end-of-life-base"] == []


def test_fix_keeps_an_end_of_life_python_and_says_so(tmp_path: Path) -> None:
    # fix cannot choose the project's Python for it (its requires-python, its lock): the FROM
    # keeps Python 3.8, and a note says it is end-of-life.
    for name, text in {"pyproject.toml": UV_PROJECT, "uv.lock": ""}.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.8.18-bookworm\nCOPY --from=ghcr.io/astral-sh/uv:0.5.2 /uv /bin/uv\nWORKDIR /app\n"
        "COPY pyproject.toml uv.lock ./\nRUN uv sync --locked\nCOPY . .\n"
    )
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result
    passes_its_own_lint(result.text, tmp_path)
    assert result.text.startswith("FROM python:3.8.18-bookworm AS builder\n")
    assert "FROM python:3.8.18-slim-bookworm AS runtime" in result.text
    assert any("Python 3.8 is end-of-life" in note for note in result.notes), result.notes


def test_fix_keeps_a_numbered_end_of_life_debian_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(UV_PROJECT)
    (tmp_path / "uv.lock").write_text("")
    (tmp_path / "Dockerfile").write_text(
        "FROM debian:10.13-slim\nRUN apt-get update && apt-get install -y --no-install-recommends python3 "
        "&& rm -rf /var/lib/apt/lists/*\nCOPY --from=ghcr.io/astral-sh/uv:0.5.2 /uv /bin/uv\nWORKDIR /app\n"
        "COPY pyproject.toml uv.lock ./\nRUN uv sync --locked\nCOPY . .\n"
    )
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result
    assert "FROM debian:10.13-slim" in result.text
    assert any("Debian 10 (buster) is end-of-life" in note for note in result.notes), result.notes


# --- pip-compile's cache -------------------------------------------------------------------------

PIP_COMPILE = """\
FROM python:3.12-slim
{env}WORKDIR /app
RUN pip install --no-cache-dir pip-tools==7.4.1
COPY requirements.in .
RUN {run}
RUN pip install --no-cache-dir -r requirements.txt
"""


@pytest.mark.parametrize(
    ("env", "run", "kept"),
    [
        ("", "pip-compile requirements.in", True),
        ("", "pip-compile --resolver=backtracking --output-file=requirements.txt requirements.in", True),
        ("", "python -m piptools compile requirements.in", True),
        # pip-tools' own cache goes, pip's HTTP cache (pip-compile fetches through pip) stays.
        ("", "pip-compile requirements.in && rm -rf /root/.cache/pip-tools", True),
        ("ENV PIP_NO_CACHE_DIR=1\n", "pip-compile requirements.in", True),
        ("", "--mount=type=cache,target=/root/.cache/pip-tools pip-compile requirements.in", True),
        # pip-sync's pip keeps no cache; pip-compile's caches stay all the same.
        ("", "pip-compile requirements.in && pip-sync --pip-args '--no-cache-dir --no-deps'", True),
        # Both kept out.
        ("", "--mount=type=cache,target=/root/.cache pip-compile requirements.in", False),
        ("", "pip-compile requirements.in && rm -rf /root/.cache/pip-tools /root/.cache/pip", False),
        ("", "pip-compile requirements.in && rm -rf /root/.cache", False),
        (
            "ENV PIP_NO_CACHE_DIR=1\n",
            "pip-compile --cache-dir /tmp/pt requirements.in && rm -rf /tmp/pt",
            False,
        ),
        (
            "ENV PIP_TOOLS_CACHE_DIR=/tmp/ptc\n",
            "pip-compile --pip-args '--no-cache-dir' requirements.in && rm -rf /tmp/ptc",
            False,
        ),
        (
            "",
            "--mount=type=cache,target=/root/.cache/pip-tools "
            "--mount=type=cache,target=/root/.cache/pip pip-compile requirements.in",
            False,
        ),
    ],
)
def test_pip_compile_keeps_its_cache_in_the_layer(tmp_path: Path, env: str, run: str, kept: bool) -> None:
    dockerfile = PIP_COMPILE.format(env=env, run=run)
    found = lint_at(tmp_path, dockerfile, {"requirements.in": "django\n"})
    line = dockerfile.splitlines().index(f"RUN {run}") + 1
    assert ((line, "pip-cache-in-layer") in {(f[0], f[1]) for f in found}) is kept, found


def test_pip_compile_says_where_its_cache_is_and_how_to_keep_it_out(tmp_path: Path) -> None:
    lint_at(tmp_path, PIP_COMPILE.format(env="", run="pip-compile requirements.in"))
    (found,) = [
        h for h in run_lint(tmp_path / "Dockerfile", TODAY) if h.id == "pip-cache-in-layer" and h.line == 5
    ]
    assert "pip-compile" in found.message and "/root/.cache/pip-tools" in found.message
    # PIP_NO_CACHE_DIR (the finding's usual fix) turns off pip's cache only, not pip-tools'.
    assert "pip-tools" in found.fix and "PIP_NO_CACHE_DIR" not in found.fix


def test_pip_compile_in_a_builder_that_does_not_ship_is_left_alone(tmp_path: Path) -> None:
    dockerfile = (
        "FROM python:3.12-slim AS compile\nRUN pip install --no-cache-dir pip-tools\nCOPY requirements.in .\n"
        "RUN pip-compile requirements.in\n\nFROM python:3.12-slim\nCOPY --from=compile requirements.txt .\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
    )
    assert [f for f in lint_at(tmp_path, dockerfile) if f[1] == "pip-cache-in-layer"] == []


# --- a second venv of the same project ---------------------------------------------------------

UV_TWICE = """\
FROM python:3.12-slim
COPY --from=ghcr.io/astral-sh/uv:0.5.13 /uv /uvx /bin/
ENV UV_LINK_MODE=copy
{first_dir}COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --no-install-project
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev
ENV PATH="/app/.venv/bin:$PATH"
CMD ["python", "-m", "app"]
"""
UV_FILES = {"pyproject.toml": UV_PROJECT, "uv.lock": ""}


def duplicate_venvs(found: list[tuple[int, str, str]]) -> list[tuple[int, str]]:
    return [(line, message) for line, finding, message in found if finding == "duplicate-venv"]


@pytest.mark.parametrize(
    ("first_dir", "first_venv", "line"),
    [("", "/.venv", 5), ("WORKDIR /build\n", "/build/.venv", 6)],
)
def test_uv_sync_before_workdir_makes_a_second_venv(
    tmp_path: Path, first_dir: str, first_venv: str, line: int
) -> None:
    found = duplicate_venvs(lint_at(tmp_path, UV_TWICE.format(first_dir=first_dir), UV_FILES))
    assert [f[0] for f in found] == [line], found
    assert first_venv in found[0][1] and "/app/.venv" in found[0][1]


@pytest.mark.parametrize(
    "dockerfile",
    [
        # uv's guide: WORKDIR first, both syncs fill /app/.venv.
        UV_TWICE.format(first_dir="WORKDIR /app\n"),
        # The venv is named, wherever uv runs.
        UV_TWICE.format(first_dir="ENV UV_PROJECT_ENVIRONMENT=/opt/venv\n"),
        # Two projects of a monorepo: two venvs, each its own.
        "FROM python:3.12-slim\nCOPY --from=ghcr.io/astral-sh/uv:0.5.13 /uv /bin/\nWORKDIR /srv\n"
        "COPY . .\nWORKDIR /srv/api\nRUN uv sync --frozen --no-dev --no-cache\n"
        "WORKDIR /srv/worker\nRUN uv sync --frozen --no-dev --no-cache\n",
        # The first venv is removed in its own RUN.
        UV_TWICE.format(first_dir="").replace(
            "--no-install-project", "--no-install-project && rm -rf /.venv"
        ),
        # Only a builder makes the first; the runtime copies one venv.
        "FROM python:3.12-slim AS builder\nCOPY --from=ghcr.io/astral-sh/uv:0.5.13 /uv /bin/\n"
        "COPY pyproject.toml uv.lock ./\nRUN uv sync --frozen --no-dev --no-cache\nWORKDIR /app\nCOPY . .\n"
        "RUN uv sync --frozen --no-dev --no-cache\n\nFROM python:3.12-slim\n"
        "COPY --from=builder /app/.venv /app/.venv\n",
    ],
)
def test_one_venv_per_project_is_no_finding(tmp_path: Path, dockerfile: str) -> None:
    (tmp_path / "services").mkdir()
    assert duplicate_venvs(lint_at(tmp_path, dockerfile, UV_FILES)) == []


POETRY = '[tool.poetry]\nname = "app"\nversion = "0.1.0"\n\n[tool.poetry.dependencies]\npython = "^3.12"\n'
POETRY_TWICE = (
    "FROM python:3.12-slim\nRUN pip install --no-cache-dir poetry==1.8.5\n"
    "ENV POETRY_VIRTUALENVS_IN_PROJECT=1 POETRY_CACHE_DIR=/tmp/pc\n"
    "COPY pyproject.toml poetry.lock ./\nRUN poetry install --only main --no-root && rm -rf /tmp/pc\n"
    "WORKDIR /code\nCOPY . .\nRUN poetry install --only main && rm -rf /tmp/pc\n"
)


def test_poetry_in_project_venvs_of_one_project_in_two_directories(tmp_path: Path) -> None:
    found = duplicate_venvs(lint_at(tmp_path, POETRY_TWICE, {"pyproject.toml": POETRY, "poetry.lock": ""}))
    assert [f[0] for f in found] == [5]
    assert "/.venv" in found[0][1] and "/code/.venv" in found[0][1]


def test_fix_says_an_install_that_fills_another_venv_stays_in_the_builder(tmp_path: Path) -> None:
    # Poetry keeps its venv beside the project file it finds: fix cannot point the first install
    # at /code/.venv as it does uv's; the runtime copies one venv, and a note says why two are made.
    lint_at(tmp_path, POETRY_TWICE, {"pyproject.toml": POETRY, "poetry.lock": ""})
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result
    passes_its_own_lint(result.text, tmp_path)
    runtime = result.text.rpartition("\nFROM ")[2]
    copies = [line for line in runtime.splitlines() if line.startswith("COPY --from=builder")]
    assert copies == ["COPY --from=builder /code/.venv /code/.venv"]
    assert any(n.startswith("line 5: /.venv is not the venv the runtime copies") for n in result.notes), (
        result.notes
    )


def test_fix_leaves_one_venv(tmp_path: Path) -> None:
    for name, text in UV_FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "Dockerfile").write_text(UV_TWICE.format(first_dir=""))
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result
    passes_its_own_lint(result.text, tmp_path)  # duplicate-venv is a size finding
    builder, _, runtime = result.text.partition("\nFROM ")
    # Both syncs fill the venv the runtime copies: the first one's goes there too.
    assert builder.index("UV_PROJECT_ENVIRONMENT=/app/.venv") < builder.index("--no-install-project")
    assert (
        runtime.count("COPY --from=builder") == 1 and "COPY --from=builder /app/.venv /app/.venv" in runtime
    )

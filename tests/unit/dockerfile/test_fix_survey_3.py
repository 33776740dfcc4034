"""`imgaudit fix` on the patterns of a third survey of public Dockerfiles (Poetry, uv): each
test reproduces, in a file of our own, one class of wrong edit found there (the project whose
Dockerfile showed it is named), and checks, through the build model reading the fixed file
back, what the fixed build does."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgaudit.dockerfile.build import Build, Install, read_build
from imgaudit.dockerfile.commands import run_fix
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import read_context
from tests.unit.dockerfile.test_fix import passes_its_own_lint
from tests.unit.dockerfile.test_fix_survey import POETRY_DEV, TODAY, UV_PROJECT, fix

POETRY_FILES = {"pyproject.toml": POETRY_DEV, "poetry.lock": '[metadata]\nlock-version = "2.0"\n'}


def _fixed_build(text: str, directory: Path) -> Build:
    return read_build(passes_its_own_lint(text, directory), read_context(directory))


def _original_build(directory: Path) -> Build:
    return read_build(parse_dockerfile((directory / "Dockerfile").read_text()), read_context(directory))


def _stage(build: Build, name: str) -> int:
    return next(s.index for s in build.stages if s.name == name)


@pytest.mark.parametrize(
    "runtime",
    [
        # pipo: the runtime sets no WORKDIR and runs the code from /pipo by its module name.
        "FROM base AS production\nCOPY --from=builder $SETUP $SETUP\nCOPY ./app /app/\n"
        'CMD ["/opt/setup/.venv/bin/gunicorn", "app.main:app"]\n',
        # The same with a relative COPY destination: it lands in /.
        "FROM base AS production\nCOPY --from=builder $SETUP $SETUP\nCOPY app app\n"
        'CMD ["/opt/setup/.venv/bin/gunicorn", "app.main:app"]\n',
    ],
)
def test_no_stage_starts_in_another_directory(tmp_path: Path, runtime: str) -> None:
    # fix gave the shared base `WORKDIR /opt/pysetup` (the builder's): the runtime started
    # there, and gunicorn no longer found `pipo` (in /pipo) on its path.
    text = fix(
        tmp_path,
        "FROM python:3.12-slim AS base\nENV POETRY_VIRTUALENVS_IN_PROJECT=true SETUP=/opt/setup\n\n"
        "FROM base AS builder\nRUN pip install --no-cache-dir poetry==1.8.3\nWORKDIR $SETUP\n"
        "COPY poetry.lock pyproject.toml ./\n"
        "RUN poetry install --only main --no-root && rm -rf /root/.cache/pypoetry\n\n" + runtime,
        POETRY_FILES,
    )
    fixed, original = _fixed_build(text, tmp_path), _original_build(tmp_path)
    assert fixed.final.end.workdir == "/"
    for stage in original.stages:
        assert fixed.stages[_stage(fixed, stage.name or "")].end.workdir == stage.end.workdir


@pytest.mark.parametrize(
    "runtime",
    [
        # Rekeningrijden: the runtime and the builder are both built FROM the shared parent.
        'FROM python AS runtime\nENV PATH="/app/.venv/bin:$PATH"\nCOPY --from=poetry /app /app\nCOPY . .\n'
        'CMD ["python", "app.py"]\n',
        # Built FROM the builder: the new runtime has its own base, the parent stays full.
        'FROM poetry AS runtime\nCOPY . .\nCMD ["python", "app.py"]\n',
    ],
)
def test_the_builder_keeps_the_full_image_when_the_runtime_gets_the_slim_one(
    tmp_path: Path, runtime: str
) -> None:
    # fix rewrote the shared parent to python:3.11-slim: the builder lost gcc and the headers
    # an sdist compiles with, while fix's note said they "stay in the builder".
    text = fix(
        tmp_path,
        "FROM python:3.11 AS python\nWORKDIR /app\nENV APP_ENV=production\n\n"
        "FROM python AS poetry\nENV POETRY_VIRTUALENVS_IN_PROJECT=true\n"
        "RUN pip install --no-cache-dir poetry==1.8.3\nCOPY pyproject.toml poetry.lock ./\n"
        "RUN poetry install --only main --no-root && rm -rf /root/.cache/pypoetry\n\n" + runtime,
        POETRY_FILES,
    )
    fixed = _fixed_build(text, tmp_path)
    builder = fixed.stages[_stage(fixed, "poetry")]
    assert fixed.root(builder).base == "python:3.11"
    assert fixed.root(fixed.final).base == "python:3.11-slim"
    # What the runtime had from the shared parent, it still has.
    assert fixed.final.end.workdir == "/app"
    assert fixed.final.end.env["APP_ENV"] == "production"


def _poetry_install(build: Build) -> Install:
    return next(i for s in build.stages for r in s.runs for i in r.installs if i.manager == "poetry")


MIN_POETRY = (
    "FROM python:3.12\nWORKDIR /app\nRUN pip install --no-cache-dir poetry==1.8.3\n"
    "COPY pyproject.toml poetry.lock ./\n{pragma}RUN poetry install --no-root\nCOPY . .\n"
    'CMD ["python", "-m", "app"]\n'
)


@pytest.mark.parametrize(
    ("pragma", "ignore", "pyproject"),
    [
        # min-11: the pragma right above the install (under another tool's).
        ("# hadolint ignore=DL3013\n# imgaudit ignore=dev-dependencies-installed\n", (), POETRY_DEV),
        ("", ("dev-dependencies-installed",), POETRY_DEV),
        ("", (), POETRY_DEV + '\n[tool.imgaudit]\nignore = ["dev-dependencies-installed"]\n'),
    ],
)
def test_an_ignored_dev_install_keeps_its_dev_dependencies(
    tmp_path: Path, pragma: str, ignore: tuple[str, ...], pyproject: str
) -> None:
    for name, text in {**POETRY_FILES, "pyproject.toml": pyproject}.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "Dockerfile").write_text(MIN_POETRY.format(pragma=pragma))
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY, ignore=ignore).result
    fixed = read_build(parse_dockerfile(result.text), read_context(tmp_path))
    assert _poetry_install(fixed).dev
    assert "--without" not in result.text
    assert any("dev-dependencies-installed" in note for note in result.notes)
    # The edits no ignore names are made.
    assert fixed.root(fixed.final).base == "python:3.12-slim"


@pytest.mark.parametrize(
    ("finding_id", "kept"),
    [
        ("poetry-cache-in-layer", "RUN poetry install --without dev --no-root\n"),
        ("fat-base-image", "FROM python:3.12 AS runtime\n"),
    ],
)
def test_each_ignored_finding_keeps_the_lines_its_edit_would_change(
    tmp_path: Path, finding_id: str, kept: str
) -> None:
    for name, text in POETRY_FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "Dockerfile").write_text(MIN_POETRY.format(pragma=""))
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY, ignore=(finding_id,)).result
    assert kept in result.text
    assert any(finding_id in note for note in result.notes)


@pytest.mark.parametrize(
    "install",
    [
        # Poetry downloads every wheel through its artifact cache whatever --no-cache says, and
        # `cache clear NAME --all` empties cache/repositories/NAME only (python-poetry/poetry#3374).
        "poetry install --no-root --no-cache",
        "poetry install --no-root && poetry cache clear pypi --all",
        "poetry install --no-root && poetry cache clear --all PyPI",
    ],
)
def test_poetry_s_own_switches_do_not_keep_its_wheels_out(tmp_path: Path, install: str) -> None:
    text = fix(
        tmp_path, MIN_POETRY.format(pragma="").replace("poetry install --no-root", install), POETRY_FILES
    )
    # fix() holds the file to lint: no poetry-cache-in-layer; and fix says how.
    assert "rm -rf $POETRY_CACHE_DIR" in text


def test_a_cache_the_install_s_own_prefix_moves_and_the_run_deletes_is_left_alone(tmp_path: Path) -> None:
    # min-11: `POETRY_CACHE_DIR=/tmp/pc poetry install && rm -rf /tmp/pc` keeps the cache out;
    # fix added a second cache directory and its removal.
    install = "POETRY_CACHE_DIR=/tmp/pc poetry install --no-root && rm -rf /tmp/pc"
    text = fix(
        tmp_path, MIN_POETRY.format(pragma="").replace("poetry install --no-root", install), POETRY_FILES
    )
    assert "POETRY_CACHE_DIR" not in text.replace("POETRY_CACHE_DIR=/tmp/pc poetry", "")


@pytest.mark.parametrize(
    ("fetch", "run"),
    [
        # cqrs-template: uv's installer fetched by ADD, run and deleted.
        (
            "ADD https://astral.sh/uv/install.sh /uv-installer.sh",
            "sh /uv-installer.sh && rm /uv-installer.sh",
        ),
        # Kept after it ran: still a build tool's installer.
        ("ADD https://astral.sh/uv/install.sh /tmp/install-uv.sh", "sh /tmp/install-uv.sh"),
        # Any file the builder deletes before its install never reaches the runtime either.
        ("COPY scripts/setup.sh /setup.sh", "sh /setup.sh && rm -f /setup.sh"),
    ],
)
def test_what_the_builder_fetched_to_install_its_tools_stays_in_the_builder(
    tmp_path: Path, fetch: str, run: str
) -> None:
    text = fix(
        tmp_path,
        "FROM python:3.12\nCOPY --from=ghcr.io/astral-sh/uv:0.5.2 /uv /uvx /bin/\n"
        f"{fetch}\nRUN {run}\n"
        'ENV PATH="/root/.local/bin/:$PATH"\nCOPY . /src\nWORKDIR /src\nRUN uv sync --frozen --no-dev\n',
        {"pyproject.toml": UV_PROJECT, "uv.lock": "version = 1\n", "scripts/setup.sh": "true\n"},
    )
    fixed = _fixed_build(text, tmp_path)
    assert [c.instruction.keyword for c in fixed.final.copies] == ["COPY"]  # the venv
    landed = [i.args[-1] for i in fixed.final.instructions if i.keyword in ("ADD", "COPY")]
    assert landed == ["/src/.venv", "/src"]


GOOD_POETRY = (
    "# syntax=docker/dockerfile:1\n# the builder\nFROM python:3.12 AS builder\n"
    "ENV POETRY_VIRTUALENVS_IN_PROJECT=1\nRUN pip install --no-cache-dir poetry==1.8.3\nWORKDIR /app\n\n"
    "COPY pyproject.toml poetry.lock ./\n"
    "RUN --mount=type=cache,target=/root/.cache/pypoetry poetry install --without dev --no-root\n\n"
    "# the runtime\nFROM python:3.12-slim\nWORKDIR /app\nCOPY --from=builder /app/.venv /app/.venv\n"
    "COPY . .\nCMD python -m app\n"
)


@pytest.mark.parametrize(
    ("dockerfile", "changed"),
    [
        (GOOD_POETRY, False),
        (GOOD_POETRY.replace(" --without dev", ""), True),
    ],
)
def test_a_file_with_nothing_to_fix_is_said_to_be_so(tmp_path: Path, dockerfile: str, changed: bool) -> None:
    for name, text in POETRY_FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "Dockerfile").write_text(dockerfile)
    assert run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).changed is changed


@pytest.mark.parametrize(
    ("finding_id", "run"),
    [
        ("apt-lists-left", "RUN apt-get update && apt-get install -y --no-install-recommends curl"),
        ("apt-recommends", "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*"),
        ("apk-cache-left", "RUN apk add curl"),
        ("pip-cache-in-layer", "RUN pip install gunicorn"),
    ],
)
def test_an_ignored_finding_in_a_runtime_run_keeps_the_run(tmp_path: Path, finding_id: str, run: str) -> None:
    for name, text in POETRY_FILES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.12 AS builder\nRUN pip install --no-cache-dir poetry==1.8.3\nWORKDIR /app\n"
        "COPY . .\nRUN poetry install --only main && rm -rf /root/.cache/pypoetry\n\n"
        f'FROM builder\n# imgaudit ignore={finding_id}\n{run}\nCMD ["python", "-m", "app"]\n'
    )
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result
    assert f"# imgaudit ignore={finding_id}\n{run}\n" in result.text
    assert any(finding_id in note for note in result.notes)

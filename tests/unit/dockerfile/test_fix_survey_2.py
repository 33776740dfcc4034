"""`imgaudit fix` on the patterns of a second survey of public Dockerfiles (uv, Pipenv): each
test reproduces, in a file of our own, one class of wrong edit found there (the project whose
Dockerfile showed it is named), and checks the edit a careful reader would make instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.commands import run_fix
from imgaudit.dockerfile.project import read_context
from tests.unit.dockerfile.test_fix import passes_its_own_lint
from tests.unit.dockerfile.test_fix_survey import TODAY, UV_PROJECT, fix, runtime_of

UV_FILES = {"pyproject.toml": UV_PROJECT, "uv.lock": "version = 1\n"}
PIPFILE = {"Pipfile": '[packages]\nclick = "*"\n', "Pipfile.lock": '{"_meta": {}, "default": {}}\n'}


@pytest.mark.parametrize(
    ("base", "builder"),
    [
        # shabashka: python:3.12.11-slim-bullseye was kept "(no bookworm image)"; the official
        # image has published every 3.12 release on bookworm.
        ("python:3.12.11-slim-bullseye", "python:3.12.11-slim-bookworm"),
        # The first patch releases built on bookworm (June 2023): 3.10.12, 3.11.4; the ones
        # before them never were.
        ("python:3.10.12-bullseye", "python:3.10.12-bookworm"),
        ("python:3.11.4-slim-buster", "python:3.11.4-slim-bookworm"),
        ("python:3.11.3-slim-buster", "python:3.11.3-slim-buster"),
        ("python:3.9.16-buster", "python:3.9.16-buster"),
    ],
)
def test_a_patch_release_moves_to_bookworm_when_the_official_image_has_it(
    tmp_path: Path, base: str, builder: str
) -> None:
    text = fix(
        tmp_path,
        f"FROM {base}\nCOPY --from=ghcr.io/astral-sh/uv:0.5.2 /uv /bin/uv\nWORKDIR /app\n"
        "COPY pyproject.toml uv.lock ./\nRUN uv sync --locked\nCOPY . .\n",
        UV_FILES,
    )
    assert text.startswith(f"FROM {builder} AS builder\n")


def test_uv_copied_from_a_stage_of_uvs_image_stays_out_of_the_runtime(tmp_path: Path) -> None:
    # teamster: `FROM ghcr.io/astral-sh/uv:... AS uv` then `COPY --from=uv /uv /bin/`: the
    # runtime kept the COPY while its note said "no uv".
    text = fix(
        tmp_path,
        "FROM ghcr.io/astral-sh/uv:0.5.2 AS uv\n\nFROM python:3.12-slim\nENV UV_NO_CACHE=1\nWORKDIR /app\n"
        "COPY --from=uv /uv /bin/\nCOPY uv.lock pyproject.toml /app/\nRUN uv sync --frozen --no-dev\n"
        'CMD ["python", "-m", "app"]\n',
        UV_FILES,
    )
    builder, runtime = text.rpartition("\nFROM ")[0], runtime_of(text)
    assert "COPY --from=uv /uv /bin/" in builder
    assert "--from=uv" not in runtime


@pytest.mark.parametrize(
    ("run", "kept"),
    [
        # nintendofcode: `FROM builder` then `RUN pipenv shell`, in a runtime without Pipenv.
        ("RUN pipenv shell", None),
        ("RUN pipenv shell && python -m app.setup", "RUN python -m app.setup"),
        ("RUN python -m app.setup; pipenv shell", "RUN python -m app.setup"),
        # In a test's branch the shell needs a command there: `true`, what `pipenv shell` did.
        ("RUN if [ -f x ]; then pipenv shell; fi", "RUN if [ -f x ]; then true; fi"),
    ],
)
def test_pipenv_shell_is_dropped_from_the_runtime(tmp_path: Path, run: str, kept: str | None) -> None:
    for name, text in PIPFILE.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11 AS builder\nWORKDIR /tmp\nCOPY Pipfile Pipfile.lock ./\n"
        "RUN pip install --no-cache-dir pipenv && pipenv sync\n\n"
        f'FROM builder\nWORKDIR /app\n{run}\nCMD ["python", "main.py"]\n'
    )
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result
    passes_its_own_lint(result.text, tmp_path)
    runtime = runtime_of(result.text)
    assert "pipenv" not in runtime
    if kept is not None:
        assert kept in runtime
    assert any("`pipenv shell` dropped" in note for note in result.notes)


def _runs_in(text: str, directory: Path, words: str) -> list[str]:
    """The working directory of each RUN whose text holds `words`, as the build model reads
    the fixed file."""
    parsed = passes_its_own_lint(text, directory)
    build = read_build(parsed, read_context(directory))
    return [s.state.workdir for st in build.stages for s in st.runs if words in s.instruction.original]


@pytest.mark.parametrize(
    "between",
    [
        # cqrs-template, shabashka, mushishiva-kafka: the code is copied to /app, then WORKDIR.
        "",
        # An instruction that depends on the directory it runs in stays where it ran.
        "RUN ls > files.txt\nCOPY VERSION version.txt\n",
    ],
)
def test_the_dependencies_install_where_the_project_install_runs(tmp_path: Path, between: str) -> None:
    text = fix(
        tmp_path,
        "FROM python:3.12-slim\nCOPY --from=ghcr.io/astral-sh/uv:0.5.2 /uv /bin/uv\nWORKDIR /src\n"
        f"ADD . /app\n{between}WORKDIR /app\nRUN uv sync --locked\n",
        {**UV_FILES, "VERSION": "1\n"},
    )
    assert _runs_in(text, tmp_path, "--no-install-project") == ["/app"]
    assert _runs_in(text, tmp_path, "uv sync") == ["/app", "/app"]
    if between:
        assert _runs_in(text, tmp_path, "ls > files.txt") == ["/src"]


def _global_args(text: str) -> list[str]:
    return [line for line in text.split("\nFROM ", 1)[0].splitlines() if line.startswith("ARG ")]


def test_global_args_stay_for_the_stages_that_declare_them(tmp_path: Path) -> None:
    # mini-tgi: the ARGs before the first FROM were deleted (only the FROM lines' values were
    # inlined): a stage's `ARG WORK_DIR` then had no default, and WORKDIR and the venv's COPY
    # pointed at nothing.
    text = fix(
        tmp_path,
        "# the versions\nARG PY=3.12\nARG WORK_DIR=/app\n\n"
        "FROM python:${PY}-slim AS builder\nARG WORK_DIR\nCOPY --from=ghcr.io/astral-sh/uv:0.5.2 /uv /bin/uv\n"
        "WORKDIR ${WORK_DIR}\nCOPY pyproject.toml uv.lock ./\nRUN uv sync --frozen --no-dev --no-cache\n\n"
        "FROM python:${PY}-slim AS runtime\nARG WORK_DIR\nWORKDIR ${WORK_DIR}\n"
        'COPY --from=builder ${WORK_DIR}/.venv ${WORK_DIR}/.venv\nENV PATH="${WORK_DIR}/.venv/bin:${PATH}"\n'
        'CMD ["python", "-m", "app"]\n',
        UV_FILES,
    )
    assert text.startswith("# the versions\nARG PY=3.12\nARG WORK_DIR=/app\n")
    assert text.count("FROM python:${PY}-slim AS ") == 2
    build = read_build(passes_its_own_lint(text, tmp_path), read_context(tmp_path))
    assert build.final.end.workdir == "/app"
    assert [c.sources for c in build.final.copies] == [("/app/.venv",)]


def test_a_global_arg_in_from_is_kept_and_the_slim_variant_written_through_it(tmp_path: Path) -> None:
    text = fix(
        tmp_path,
        "ARG PY=3.12\nFROM python:${PY}\nCOPY --from=ghcr.io/astral-sh/uv:0.5.2 /uv /bin/uv\nWORKDIR /app\n"
        "COPY pyproject.toml uv.lock ./\nRUN uv sync --locked\nCOPY . .\n",
        UV_FILES,
    )
    assert _global_args(text) == ["ARG PY=3.12"]
    assert "\nFROM python:${PY} AS builder\n" in text
    assert runtime_of(text).startswith("FROM python:${PY}-slim AS runtime\n")


@pytest.mark.parametrize("build_args", [{}, {"BASE_IMAGE": "python:3.11"}])
def test_a_base_image_from_a_build_arg_stays_a_build_arg(tmp_path: Path, build_args: dict[str, str]) -> None:
    # A FROM that only a build arg names: without a value fix failed with "internal error: the
    # fixed Dockerfile copies from stage 'build' before it is defined"; with one, it wrote
    # that image in FROM and dropped the ARG, so the file no longer took the build arg.
    for name, text in PIPFILE.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "Dockerfile").write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE} AS build\nWORKDIR /app\nCOPY Pipfile Pipfile.lock ./\n"
        "RUN pip install --no-cache-dir pipenv && PIPENV_VENV_IN_PROJECT=1 pipenv install --deploy\n"
        'COPY . .\nCMD ["/app/.venv/bin/python", "main.py"]\n'
    )
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY, build_args).result
    text = result.text
    assert _global_args(text) == ["ARG BASE_IMAGE"]
    assert "FROM ${BASE_IMAGE} AS build\n" in text
    # The runtime runs the builder's venv: the same image, whatever the build passes.
    assert runtime_of(text).startswith("FROM ${BASE_IMAGE} AS runtime\n")
    assert "COPY --from=build /app/.venv /app/.venv" in runtime_of(text)
    assert any("${BASE_IMAGE}" in note for note in result.notes)

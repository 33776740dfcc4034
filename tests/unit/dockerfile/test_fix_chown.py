"""fix hands files over where they are written: a `RUN [useradd ... &&] chown -R U <what the
runtime copies>` after the install becomes `COPY --chown=U` of the venv and the code (lint's
files-rewritten-later), with the user made before the COPYs. A RUN that does more, or an owner
that would not exist yet, is left as it is: the finding stands. Instructions between the COPY
and the RUN that change neither the files nor how the RUN runs are crossed; the others keep the
chown, with a note saying which."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgaudit.dockerfile.commands import run_fix
from tests.unit.dockerfile.test_fix_survey import TODAY, fix, runtime_of

HEAD = (
    "FROM python:3.11-slim\nRUN pip install --no-cache-dir poetry==1.8.5\nWORKDIR /app\n"
    "COPY poetry.lock pyproject.toml /app/\n"
    "RUN poetry config virtualenvs.create false && poetry install --only main --no-root --no-cache\n"
    "COPY . /app\n"
)
TAIL = 'USER botuser\nCMD ["python", "-m", "scraper"]\n'


def test_a_chown_after_the_install_becomes_copy_chown(tmp_path: Path) -> None:
    text = fix(tmp_path, HEAD + "RUN useradd -m botuser && chown -R botuser:botuser /app\n" + TAIL, {})
    _assert_handed_over(runtime_of(text))


def _assert_handed_over(runtime: str, between: str | None = None) -> None:
    """The user is made first, then the venv and the code are copied owned by it, then (the
    instruction that stood between the COPY and the chown, then) USER."""
    assert "chown -R" not in runtime
    lines = runtime.splitlines()
    made = lines.index("RUN useradd -m botuser && mkdir -p /app && chown botuser:botuser /app")
    venv = lines.index("COPY --from=builder --chown=botuser:botuser /app/.venv /app/.venv")
    code = lines.index("COPY --chown=botuser:botuser . /app")
    after = lines.index(between, code) if between is not None else code
    assert made < venv < code <= after < lines.index("USER botuser")


def test_a_chown_of_the_venv_alone_by_a_user_made_earlier(tmp_path: Path) -> None:
    dockerfile = (
        "FROM python:3.11-slim\nRUN useradd -m app\nRUN pip install --no-cache-dir poetry==1.8.5\n"
        "WORKDIR /app\nCOPY pyproject.toml poetry.lock ./\n"
        "RUN POETRY_VIRTUALENVS_IN_PROJECT=1 poetry install --only main --no-root --no-cache\n"
        "COPY . .\nRUN chown -R app /app/.venv\nUSER app\n"
    )
    runtime = runtime_of(fix(tmp_path, dockerfile, {}))
    assert "COPY --from=builder --chown=app /app/.venv /app/.venv" in runtime
    assert "chown -R" not in runtime
    # Only the venv was handed over: the code stays root's, the workdir too.
    assert "\nCOPY . .\n" in runtime
    assert "chown app /app\n" not in runtime


def unchanged_chown(tmp_path: Path, dockerfile: str) -> str:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    return runtime_of(run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result.text)


def test_a_chown_beside_other_work_stays(tmp_path: Path) -> None:
    runtime = unchanged_chown(
        tmp_path,
        HEAD + "RUN useradd -m botuser && chown -R botuser /app && python -m compileall /app\n" + TAIL,
    )
    assert "chown -R botuser /app" in runtime
    assert "--chown" not in runtime


def test_an_owner_no_step_makes_before_the_copies_stays(tmp_path: Path) -> None:
    # `app` comes from where fix cannot see (the base image, perhaps): COPY --chown would
    # fail if it is not there, so fix leaves the chown (a path naming it is no user made).
    runtime = unchanged_chown(
        tmp_path,
        HEAD.replace("WORKDIR /app", "ENV HOME=/app\nWORKDIR /app") + "RUN chown -R app /app\n" + TAIL,
    )
    assert "RUN chown -R app /app" in runtime
    assert "--chown" not in runtime


def test_a_chown_of_what_the_runtime_does_not_copy_stays(tmp_path: Path) -> None:
    runtime = unchanged_chown(
        tmp_path, HEAD + "RUN useradd botuser && chown -R botuser /app /var/log/app\n" + TAIL
    )
    assert "chown -R botuser /app /var/log/app" in runtime


MULTI = (
    "FROM python:3.12-slim AS builder\nRUN pip install --no-cache-dir poetry==1.8.5\nWORKDIR /app\n"
    "COPY pyproject.toml poetry.lock ./\n"
    "RUN POETRY_VIRTUALENVS_IN_PROJECT=1 poetry install --only main --no-root --no-cache\n"
    "FROM python:3.12-slim\nWORKDIR /app\nCOPY --from=builder /app/.venv /app/.venv\nCOPY . .\n"
)


def test_a_runtime_stage_kept_as_it_is_gets_copy_chown(tmp_path: Path) -> None:
    dockerfile = (
        MULTI
        + 'RUN groupadd app && useradd -g app app && chown -R app:app /app\nUSER app\nCMD ["python", "-m", "app"]\n'
    )
    runtime = runtime_of(fix(tmp_path, dockerfile, {}))
    assert runtime.splitlines()[1:6] == [
        "WORKDIR /app",
        "RUN groupadd app && useradd -g app app && mkdir -p /app && chown app:app /app",
        "COPY --from=builder --chown=app:app /app/.venv /app/.venv",
        "COPY --chown=app:app . .",
        "USER app",
    ]


def test_a_chmod_stays_for_lint_to_report(tmp_path: Path) -> None:
    # A mode is not handed over (COPY --chmod needs a BuildKit the file may not use).
    runtime = unchanged_chown(tmp_path, MULTI + "RUN chmod -R g=u /app\nUSER 1000\n")
    assert "RUN chmod -R g=u /app" in runtime


def test_code_chowned_before_the_install_keeps_its_owner_in_the_runtime(tmp_path: Path) -> None:
    # The builder's RUN comes to the runtime without its chown (it builds): the code the chown
    # handed over is copied with --chown instead, and the workdir keeps its owner.
    dockerfile = (
        "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir pipenv\n"
        "RUN useradd -m apiuser && chown -R apiuser:apiuser /app\n"
        "RUN PIPENV_VENV_IN_PROJECT=1 pipenv install --deploy\nUSER apiuser\n"
    )
    runtime = runtime_of(fix(tmp_path, dockerfile, {"Pipfile": '[packages]\nflask = "*"\n'}))
    lines = runtime.splitlines()
    assert lines.index("RUN useradd -m apiuser") < lines.index(
        "RUN mkdir -p /app && chown apiuser:apiuser /app"
    )
    assert "COPY --chown=apiuser:apiuser . /app" in lines
    assert "COPY --from=builder /app/.venv /app/.venv" in lines  # made by root after the chown


# Instructions that neither write files nor change how the chown's RUN runs: the users it makes
# move above them, to before the COPYs, and the chown becomes --chown all the same.
BESIDE = [
    "EXPOSE 8000",
    'CMD ["python", "-m", "scraper", "--serve"]',
    'ENTRYPOINT ["python", "-m", "scraper"]',
    "LABEL org.opencontainers.image.source=https://example.com/scraper",
    "HEALTHCHECK --interval=30s CMD python -c 'import scraper'",
    "STOPSIGNAL SIGINT",
    "ONBUILD RUN echo derived",
    "ENV PYTHONUNBUFFERED=1 PATH=/app/.venv/bin:$PATH",
    "ARG VERSION=1.0",
    # The directory the COPY wrote into and the chown hands over: it exists, and the users'
    # RUN hands the directory itself to the owner where it goes.
    "WORKDIR /app",
    # Elsewhere: the COPY's `.` is still /app (read where the COPY ran, not where the chown does).
    "WORKDIR /srv",
    "USER root",  # who ran everything before it anyway
]


@pytest.mark.parametrize("between", BESIDE)
def test_an_instruction_between_the_copy_and_the_chown_keeps_the_handover(
    tmp_path: Path, between: str
) -> None:
    text = fix(
        tmp_path, HEAD + between + "\nRUN useradd -m botuser && chown -R botuser:botuser /app\n" + TAIL, {}
    )
    _assert_handed_over(runtime_of(text), between)


@pytest.mark.parametrize("between", BESIDE)
def test_a_kept_runtime_stage_hands_over_across_the_instruction(tmp_path: Path, between: str) -> None:
    dockerfile = (
        MULTI + f"{between}\nRUN groupadd app && useradd -g app app && chown -R app:app /app\nUSER app\n"
    )
    runtime = runtime_of(fix(tmp_path, dockerfile, {}))
    assert runtime.splitlines()[1:7] == [
        "WORKDIR /app",
        "RUN groupadd app && useradd -g app app && mkdir -p /app && chown app:app /app",
        "COPY --from=builder --chown=app:app /app/.venv /app/.venv",
        "COPY --chown=app:app . .",
        between,
        "USER app",
    ]


def refused(tmp_path: Path, dockerfile: str) -> tuple[str, str]:
    """The runtime fix writes, and its notes as one line."""
    (tmp_path / "Dockerfile").write_text(dockerfile)
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result
    return runtime_of(result.text), " | ".join(result.notes)


# Instructions the users' RUN cannot move above: the chown stays (and lint's finding with it),
# and fix says why.
ACROSS = [
    pytest.param(
        "ENV APP_USER=botuser",
        "RUN useradd -m $APP_USER && chown -R $APP_USER /app",
        "it reads $APP_USER, which the ENV of line 7 sets",
        id="ENV-read",
    ),
    pytest.param(
        "ARG UID=1000",
        "RUN useradd -u ${UID} botuser && chown -R botuser /app",
        "it reads $UID, which the ARG of line 7 sets",
        id="ARG-read",
    ),
    pytest.param(
        "USER nobody",
        "RUN useradd botuser && chown -R botuser /app",
        "the USER of line 7 runs it as nobody",
        id="USER",
    ),
    pytest.param(
        "WORKDIR /app/data",
        "RUN useradd botuser && chown -R botuser /app",
        "the WORKDIR of line 7 makes /app/data, which the chown hands over",
        id="WORKDIR-made",
    ),
    pytest.param(
        "VOLUME /app/data",
        "RUN useradd botuser && chown -R botuser /app",
        "the VOLUME of line 7 stands between",
        id="VOLUME",
    ),
    pytest.param(
        'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
        "RUN useradd botuser && chown -R botuser /app",
        "the SHELL of line 7 stands between",
        id="SHELL",
    ),
]


@pytest.mark.parametrize(("between", "run", "why"), ACROSS)
def test_an_instruction_the_users_cannot_move_above_keeps_the_chown(
    tmp_path: Path, between: str, run: str, why: str
) -> None:
    runtime, notes = refused(tmp_path, HEAD + f"{between}\n{run}\n" + TAIL)
    assert f"{between}\n{run}\n" in runtime
    assert "--chown" not in runtime
    assert f"line 8: `chown -R` kept (files-rewritten-later): {why}" in notes


@pytest.mark.parametrize(("between", "run", "why"), ACROSS)
def test_a_kept_runtime_stage_keeps_the_chown_across_the_instruction(
    tmp_path: Path, between: str, run: str, why: str
) -> None:
    runtime, notes = refused(tmp_path, MULTI + f"{between}\n{run}\nUSER botuser\n")
    assert f"{between}\n{run}\n" in runtime
    assert "--chown" not in runtime
    assert f"line 11: `chown -R` kept (files-rewritten-later): {why.replace('line 7', 'line 10')}" in notes


def test_a_copy_with_its_own_owner_elsewhere_leaves_the_handover(tmp_path: Path) -> None:
    # The entrypoint COPY sets its owner and writes outside what the chown hands over: it stays
    # as written, and the chown still becomes --chown on the COPYs of /app.
    entrypoint = "COPY --chown=1000 entrypoint.sh /usr/local/bin/entrypoint.sh"
    dockerfile = MULTI + f"{entrypoint}\nRUN useradd -u 1000 app && chown -R app /app\nUSER app\n"
    runtime = runtime_of(fix(tmp_path, dockerfile, {}))
    assert "chown -R" not in runtime
    assert "COPY --chown=app . ." in runtime
    assert f"\n{entrypoint}\n" in runtime


def test_a_copy_with_its_own_owner_inside_what_the_chown_hands_over_keeps_the_chown(tmp_path: Path) -> None:
    # The chown gave /app/etc to app after `--chown=root` set it: handing over the other COPYs
    # alone would leave /app/etc root's.
    dockerfile = MULTI + "COPY --chown=root etc /app/etc\nRUN useradd app && chown -R app /app\nUSER app\n"
    runtime = unchanged_chown(tmp_path, dockerfile)
    assert "RUN useradd app && chown -R app /app" in runtime

"""`apk-cache-left` in `lint` and `fix`: an `apk add`/`update`/`upgrade` that keeps the
repositories' index in /var/cache/apk of a layer that ships.

apk-tools refreshes the indexes into its cache before `add`, `upgrade` and `fix` run (and
`update` does nothing else); `--no-cache` fetches them on the fly and keeps none; `del` reads
none. `apk cache clean`/`purge` keep the index of every configured repository (apk-tools'
app_cache.c), so they are no clean-up of it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from imgaudit.cli import main
from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.commands import run_fix
from imgaudit.dockerfile.lint import Hint, lint
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject
from tests.unit.dockerfile.test_fix import passes_its_own_lint

TODAY = dt.date(2026, 12, 1)
BASE = "FROM python:3.12-alpine\n"


def apk_hints(text: str) -> list[Hint]:
    build = read_build(parse_dockerfile(text), ContextProject(), None, {})
    return [h for h in lint(build, TODAY) if h.id == "apk-cache-left"]


def flagged_lines(text: str) -> list[int]:
    return [h.line for h in apk_hints(text)]


@pytest.mark.parametrize(
    "run",
    [
        "apk add gcc musl-dev",
        "apk add --virtual .build-deps gcc musl-dev",
        "apk --update-cache add gcc",
        "apk add --update gcc",
        "apk -U add gcc",
        "apk upgrade",
        # The update writes the index; --no-cache on the install after it does not remove it.
        "apk update && apk add --no-cache gcc",
        "apk -X https://dl-cdn.alpinelinux.org/alpine/edge/testing add gcc",
        # A clean-up that runs before the install, or only when it fails, or only under a test
        # the install does not share.
        "rm -rf /var/cache/apk/* && apk add gcc",
        "apk add gcc || rm -rf /var/cache/apk/*",
        "apk add gcc; if [ -f /etc/cleanup ]; then rm -rf /var/cache/apk/*; fi",
        # `apk cache clean` keeps every configured repository's index.
        "apk add gcc && apk cache clean",
        "apk add gcc && apk cache --purge clean",
        # A cache mount somewhere else.
        "--mount=type=cache,target=/root/.cache/pip apk add gcc",
        "<<EOF\nset -e\napk add gcc\nEOF",
    ],
)
def test_an_install_that_keeps_the_index_is_flagged_at_its_run(run: str) -> None:
    assert flagged_lines(f"{BASE}WORKDIR /app\nRUN {run}\n") == [3]


@pytest.mark.parametrize(
    "run",
    [
        "apk add --no-cache gcc musl-dev",
        "apk --no-cache add gcc",
        "apk add --no-cache --update gcc",
        "apk update --no-cache",
        "apk --no-cache upgrade && apk add --no-cache gcc",
        "--mount=type=cache,target=/var/cache/apk apk add gcc",
        "--mount=type=cache,target=/var/cache/apk,sharing=locked apk update && apk add gcc",
        # /etc/apk/cache mounted: apk keeps its whole cache there, not in /var/cache/apk.
        "--mount=type=cache,target=/etc/apk/cache apk update && apk add gcc",
        "apk add gcc && rm -rf /var/cache/apk/*",
        "apk update && apk add --virtual .b gcc && pip install --no-cache-dir x && apk del .b "
        "&& rm -rf /var/cache/apk/*",
        "apk add gcc; rm -rf /var/cache/apk",
        "if [ -f /etc/build ]; then apk add gcc && rm -rf /var/cache/apk/*; fi",
        "apk add --cache-dir /tmp/apk gcc && rm -rf /tmp/apk",
        "apk del .build-deps",
        "apk info -vv",
        "apk --version",
        "<<EOF\napk add gcc\nrm -rf /var/cache/apk/*\nEOF",
    ],
)
def test_no_index_left_is_not_flagged(run: str) -> None:
    assert flagged_lines(f"{BASE}WORKDIR /app\nRUN {run}\n") == []


def test_apk_3s_global_no_cache_setting_holds_for_the_runs_after_it() -> None:
    text = f"{BASE}RUN apk add gcc\nRUN echo no-cache >> /etc/apk/config\nRUN apk add musl-dev\n"
    assert flagged_lines(text) == [2]


def test_a_cache_dir_of_its_own_is_named_and_must_be_removed_there() -> None:
    [hint] = apk_hints(f"{BASE}RUN apk add --cache-dir=/tmp/apk gcc && rm -rf /var/cache/apk/*\n")
    assert "/tmp/apk" in hint.message


def test_the_branch_the_build_args_take_decides() -> None:
    text = 'FROM python:3.12-alpine\nARG DEV={dev}\nRUN if [ "$DEV" = 1 ]; then apk add gcc; fi\n'
    assert flagged_lines(text.format(dev="1")) == [3]
    assert flagged_lines(text.format(dev="0")) == []
    assert flagged_lines(text.replace("ARG DEV={dev}", "ARG DEV")) == []  # an ARG without a value is empty
    [file_test] = apk_hints("FROM python:3.12-alpine\nRUN if [ -f /x ]; then apk add gcc; fi\n")
    assert "when `[ -f /x ]` holds (the Dockerfile does not decide it)" in file_test.message


def test_a_builder_that_never_ships_is_not_flagged_unless_its_cache_is_copied_out() -> None:
    builder = (
        "FROM python:3.12-alpine AS build\n"
        "RUN apk update && apk add gcc musl-dev\n"
        "RUN pip wheel --no-cache-dir -w /wheels .\n"
        "FROM python:3.12-alpine\n"
        "COPY --from=build /wheels /wheels\n"
    )
    assert flagged_lines(builder) == []
    everything = builder.replace("COPY --from=build /wheels /wheels", "COPY --from=build / /")
    assert flagged_lines(everything) == [2]


def test_a_runtime_built_from_the_stage_ships_its_layers() -> None:
    text = 'FROM python:3.12-alpine AS base\nRUN apk add libpq\nFROM base AS runtime\nCMD ["python"]\n'
    assert flagged_lines(text) == [2]


def test_the_id_is_a_sarif_rule_and_an_ignore_choice(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"{BASE}RUN apk add --no-cache python3-dev && apk update\n")
    result = CliRunner().invoke(main, ["lint", str(dockerfile), "--format", "sarif"])
    run = json.loads(result.output)["runs"][0]
    assert "apk-cache-left" in [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert [r["ruleId"] for r in run["results"] if r["ruleId"].startswith("apk")] == ["apk-cache-left"]
    ignored = CliRunner().invoke(main, ["lint", str(dockerfile), "--ignore", "apk-cache-left"])
    assert "apk-cache-left" not in ignored.output
    help_text = CliRunner().invoke(main, ["audit", "--help"]).output
    assert "apk-cache-left" in "".join(help_text.split())


# --- fix -------------------------------------------------------------------------------------

PYPROJECT = '[tool.poetry]\nname = "app"\n\n[tool.poetry.group.dev.dependencies]\npytest = "*"\n'


def fixed(tmp_path: Path, dockerfile: str) -> str:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    text = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result.text
    passes_its_own_lint(text, tmp_path)
    return text


ALPINE_POETRY = """\
FROM python:3.12-alpine
RUN apk update && apk add gcc musl-dev libffi-dev
RUN pip install --no-cache-dir poetry==1.8.3
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry install --only main --no-root
COPY . .
{after}
CMD ["python", "-m", "app"]
"""


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        ("RUN apk add curl", "RUN apk add --no-cache curl"),
        ("RUN apk --update add curl", "RUN apk --update add --no-cache curl"),
        # Every apk command after it now fetches fresh indexes: the update only left them behind.
        ("RUN apk update && apk add curl", "RUN apk add --no-cache curl"),
        (
            "RUN apk update \\\n    && apk upgrade \\\n    && apk add curl",
            "RUN apk upgrade --no-cache \\\n    && apk add --no-cache curl",
        ),
        ("RUN set -eux; apk update; apk add curl", "RUN set -eux; apk add --no-cache curl"),
        ("RUN apk add --no-cache curl", "RUN apk add --no-cache curl"),
        # A later command reads the index the update wrote: it stays, and goes in the same RUN.
        (
            "RUN apk update && apk add curl && apk info -a curl",
            "RUN apk update && apk add --no-cache curl && apk info -a curl \\\n    && rm -rf /var/cache/apk/*",
        ),
        # Under a test the Dockerfile does not decide: the update stays, its cache goes.
        (
            "RUN if [ -f /etc/extra ]; then apk update; fi; apk add curl",
            "RUN if [ -f /etc/extra ]; then apk update; fi; apk add --no-cache curl \\\n    && rm -rf /var/cache/apk/*",
        ),
        (
            "RUN apk update\nRUN apk add curl\nRUN apk search -v py3-",
            "RUN apk update \\\n    && rm -rf /var/cache/apk/*\nRUN apk add --no-cache curl\nRUN apk search -v py3-",
        ),
    ],
)
def test_fix_keeps_apk_s_cache_out_of_the_runtime(tmp_path: Path, after: str, expected: str) -> None:
    text = fixed(tmp_path, ALPINE_POETRY.format(after=after))
    builder, runtime = text.split("AS runtime", 1)
    assert expected in runtime
    assert "RUN apk update && apk add gcc musl-dev libffi-dev" in builder  # never ships: as written


def test_fix_edits_a_heredoc_script_line_by_line(tmp_path: Path) -> None:
    text = fixed(tmp_path, ALPINE_POETRY.format(after="RUN <<EOF\nset -e\napk update\napk add curl\nEOF"))
    assert "RUN <<EOF\nset -e\napk add --no-cache curl\nEOF\n" in text.split("AS runtime", 1)[1]
    text = fixed(tmp_path, ALPINE_POETRY.format(after="RUN <<EOF\napk update\napk info -a curl\nEOF"))
    assert "RUN <<EOF\napk update\napk info -a curl\nrm -rf /var/cache/apk/*\nEOF\n" in text


def test_fix_drops_a_run_that_only_updates_the_index_nothing_reads(tmp_path: Path) -> None:
    text = fixed(tmp_path, ALPINE_POETRY.format(after="RUN apk update\nRUN apk add curl"))
    runtime = text.split("AS runtime", 1)[1]
    assert "apk update" not in runtime and "RUN apk add --no-cache curl" in runtime


def test_fix_edits_a_runtime_stage_of_the_users_own(tmp_path: Path) -> None:
    text = fixed(
        tmp_path,
        """\
FROM python:3.12-alpine AS builder
RUN apk add gcc musl-dev
RUN pip install --no-cache-dir poetry==1.8.3
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry install --only main --no-root

FROM python:3.12-alpine
RUN apk update \\
    && apk add libpq
WORKDIR /app
COPY --from=builder /app/.venv /app/.venv
CMD ["/app/.venv/bin/python", "-m", "app"]
""",
    )
    runtime = text.split("FROM python:3.12-alpine\n", 1)[1]
    assert runtime.startswith("RUN apk add --no-cache libpq\n")

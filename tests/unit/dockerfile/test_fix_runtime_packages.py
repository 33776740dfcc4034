"""`imgaudit fix` gives the new runtime stage the OS packages the app runs with: for a `-dev`
package of the builder, its runtime library (apt's and apk's names), for a package that is not a
build tool, the package itself; what it cannot name it says, rather than guess."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from imgaudit.dockerfile.commands import run_fix
from imgaudit.dockerfile.fix import FixResult
from tests.unit.dockerfile.test_fix import passes_its_own_lint

TODAY = dt.date(2026, 12, 1)
PYPROJECT = '[tool.poetry]\nname = "app"\n\n[tool.poetry.group.dev.dependencies]\npytest = "*"\n'
SINGLE_STAGE = """\
FROM {base}
RUN {packages}
RUN pip install --no-cache-dir poetry==1.8.3
WORKDIR /app
COPY pyproject.toml poetry.lock ./
RUN poetry install --only main --no-root
COPY . .
CMD ["python", "-m", "app"]
"""


def fix(tmp_path: Path, packages: str, base: str = "python:3.12-alpine") -> tuple[str, str, FixResult]:
    """(builder, runtime, result) of the fixed single-stage file, which lints clean."""
    (tmp_path / "Dockerfile").write_text(SINGLE_STAGE.format(base=base, packages=packages))
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    result = run_fix(tmp_path / "Dockerfile", tmp_path, None, TODAY).result
    passes_its_own_lint(result.text, tmp_path)
    builder, runtime = result.text.split("AS runtime", 1)
    return builder, runtime, result


def test_psycopg2_built_against_postgresql_dev_gets_libpq_at_runtime(tmp_path: Path) -> None:
    builder, runtime, result = fix(tmp_path, "apk add --no-cache postgresql-dev gcc musl-dev")
    assert "RUN apk add --no-cache postgresql-dev gcc musl-dev\n" in builder  # as written
    assert "\nRUN apk add --no-cache libpq\n" in runtime
    assert "gcc" not in runtime and "postgresql-dev" not in runtime
    assert "line 2: the runtime gets the apk packages it runs with: libpq" in result.notes


@pytest.mark.parametrize(
    ("packages", "runtime_run"),
    [
        (
            "apk add --no-cache gcc musl-dev jpeg-dev zlib-dev libffi-dev libxml2-dev libxslt-dev openssl-dev",
            "RUN apk add --no-cache libjpeg-turbo zlib libffi libxml2 libxslt libssl3\n",
        ),
        ("apk add --no-cache libjpeg-turbo-dev libpq-dev", "RUN apk add --no-cache libjpeg-turbo libpq\n"),
        # The group's headers are built against like any others; a package the app uses is kept.
        (
            "apk add --no-cache --virtual .build-deps gcc musl-dev libffi-dev && apk add --no-cache libpq tzdata",
            "RUN apk add --no-cache libffi libpq tzdata\n",
        ),
    ],
)
def test_apk_dev_packages_give_the_runtime_their_libraries(
    tmp_path: Path, packages: str, runtime_run: str
) -> None:
    _, runtime, _ = fix(tmp_path, packages)
    assert f"\n{runtime_run}" in runtime
    assert runtime.count("apk add") == 1


@pytest.mark.parametrize(
    "packages",
    [
        "apk add --no-cache gcc musl-dev python3-dev linux-headers",
        # Installed for the build and deleted in the same RUN: the runtime needs it no more.
        "apk add --no-cache --virtual .fetch curl && curl -fsS https://example.org/x -o /tmp/x && apk del .fetch",
        "apk add --no-cache --virtual .build-deps build-base cargo\nRUN apk del .build-deps",
    ],
)
def test_build_only_apk_packages_give_the_runtime_nothing(tmp_path: Path, packages: str) -> None:
    _, runtime, _ = fix(tmp_path, packages)
    assert "apk" not in runtime


def test_apt_packages_purged_in_their_run_give_the_runtime_nothing(tmp_path: Path) -> None:
    _, runtime, _ = fix(
        tmp_path,
        "apt-get update && apt-get install -y --no-install-recommends curl gcc libpq-dev "
        "&& curl -fsS https://example.org/x -o /tmp/x && apt-get purge -y curl && rm -rf /var/lib/apt/lists/*",
        base="python:3.12-slim",
    )
    assert "install -y --no-install-recommends libpq5 \\\n" in runtime
    assert "curl" not in runtime


@pytest.mark.parametrize(
    ("packages", "base", "unknown"),
    [
        ("apk add --no-cache gcc musl-dev geos-dev", "python:3.12-alpine", "geos-dev"),
        (
            "apt-get update && apt-get install -y --no-install-recommends gcc libgdal-dev "
            "&& rm -rf /var/lib/apt/lists/*",
            "python:3.12-slim",
            "libgdal-dev",
        ),
    ],
)
def test_a_dev_package_whose_library_fix_cannot_name_is_reported_not_guessed(
    tmp_path: Path, packages: str, base: str, unknown: str
) -> None:
    _, runtime, result = fix(tmp_path, packages, base)
    stem = unknown.removesuffix("-dev")
    assert stem not in runtime
    said = [n for n in result.notes if unknown in n]
    assert said == [
        f"line 2: {unknown} stays in the builder; imgaudit fix does not know the library the app "
        "loads from it at run time: add that package to the runtime stage"
    ]

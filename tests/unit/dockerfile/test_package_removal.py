"""`build-toolchain-at-runtime` after `apk del` / `apt-get purge`: a removal takes out the
packages it names (and, for apk, the members of a `--virtual NAME` group it names), never the
other build packages installed beside them."""

from __future__ import annotations

import datetime as dt

import pytest

from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.lint import lint
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject

TODAY = dt.date(2026, 12, 1)


def toolchain_messages(text: str) -> list[str]:
    build = read_build(parse_dockerfile(text), ContextProject(), None, {})
    return [h.message for h in lint(build, TODAY) if h.id == "build-toolchain-at-runtime"]


def left(text: str) -> set[str]:
    """The build packages lint says reach the final image."""
    return {
        name for m in toolchain_messages(text) for name in m.split(" is ")[0].split(" are ")[0].split(", ")
    }


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        # The headers installed outside the group stay; the group's compilers go.
        (
            "apk add --no-cache python3-dev && apk add --no-cache --virtual .build-deps gcc musl-dev "
            "&& pip install --no-cache-dir x && apk del .build-deps",
            {"python3-dev"},
        ),
        (
            "apk add --no-cache postgresql-dev && apk add --no-cache -t .build-deps gcc musl-dev "
            "&& pip install --no-cache-dir psycopg2 && apk del --no-network .build-deps",
            {"postgresql-dev"},
        ),
        # A package deleted by name goes, the others stay.
        (
            "apk add --no-cache gcc musl-dev libffi-dev && pip install --no-cache-dir x && apk del gcc",
            {"musl-dev", "libffi-dev"},
        ),
        ("apk add --no-cache gcc musl-dev && apk del gcc musl-dev", set()),
        # Deleting a group that holds none of them, or a package never installed, removes nothing.
        ("apk add --no-cache gcc && apk add --no-cache --virtual .tools curl && apk del .tools", {"gcc"}),
        ("apk add --no-cache gcc && apk del curl", {"gcc"}),
        # Kernel headers (psutil's, say) are build-only too: Alpine names them linux-headers.
        ("apk add --no-cache gcc musl-dev linux-headers && apk del gcc musl-dev", {"linux-headers"}),
    ],
)
def test_apk_del_removes_only_what_it_names(run: str, expected: set[str]) -> None:
    assert left(f"FROM python:3.12-alpine\nRUN {run}\n") == expected


def test_a_group_deleted_in_a_later_run_takes_only_its_members() -> None:
    text = (
        "FROM python:3.12-alpine\n"
        "RUN apk add --no-cache libxml2-dev && apk add --no-cache --virtual .build-deps gcc musl-dev\n"
        "RUN pip install --no-cache-dir lxml\n"
        "RUN apk del .build-deps\n"
    )
    assert left(text) == {"libxml2-dev"}


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        # Debian's gcc is a link to gcc-12, build-essential a list of dependencies: purged alone
        # they leave the compiler (auto-installed), which only --auto-remove or autoremove takes.
        (
            "apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev "
            "&& pip install --no-cache-dir psycopg2 && apt-get purge -y gcc && rm -rf /var/lib/apt/lists/*",
            {"gcc", "libpq-dev"},
        ),
        (
            "apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev "
            "&& pip install --no-cache-dir psycopg2 && apt-get purge -y --auto-remove gcc",
            {"libpq-dev"},
        ),
        (
            "apt-get update && apt-get install -y build-essential libpq-dev && pip install --no-cache-dir x "
            "&& apt-get purge -y build-essential libpq-dev && apt-get autoremove -y",
            set(),
        ),
        (
            "apt-get update && apt-get install -y build-essential libpq-dev && pip install --no-cache-dir x "
            "&& apt-get purge -y build-essential libpq-dev && rm -rf /var/lib/apt/lists/*",
            {"build-essential"},
        ),
        # An autoremove before the removal takes nothing of it.
        (
            "apt-get update && apt-get install -y build-essential && apt-get autoremove -y "
            "&& apt-get remove -y build-essential",
            {"build-essential"},
        ),
        (
            "apt-get update && apt-get install -y --no-install-recommends gcc libpq-dev "
            "&& apt-get remove -y --auto-remove libpq-dev && rm -rf /var/lib/apt/lists/*",
            {"gcc"},
        ),
        # autoremove takes the packages nothing depends on that apt installed as dependencies;
        # those named in `install` are marked manual and stay.
        (
            "apt-get update && apt-get install -y --no-install-recommends gcc && apt-get autoremove -y "
            "&& rm -rf /var/lib/apt/lists/*",
            {"gcc"},
        ),
    ],
)
def test_apt_removal_takes_only_what_it_names(run: str, expected: set[str]) -> None:
    assert left(f"FROM python:3.12-slim\nRUN {run}\n") == expected


def test_a_metapackage_purged_without_auto_remove_is_said_to_leave_its_compilers() -> None:
    (message,) = toolchain_messages(
        "FROM python:3.12-slim\nRUN apt-get update && apt-get install -y build-essential "
        "&& pip install --no-cache-dir x && apt-get purge -y build-essential\n"
    )
    assert message == (
        "build-essential is installed in a stage that ships "
        "(build-essential purged without --auto-remove: the compilers it pulled in stay)"
    )

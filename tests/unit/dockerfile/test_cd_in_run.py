"""A relative path a RUN deletes after a `cd` is read from the directory the `cd` went to, not
from WORKDIR: `cd /src && rm -rf tests` deletes /src/tests, `cd ~ && rm -rf .cache/pip` the
root user's pip cache. A `cd` in a subshell or a `bash -c` script moves nothing after it, and
one that may not run leaves the directory as WORKDIR says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.dockerfile.test_heldout_3 import lint

LATE = """\
FROM python:3.12-slim
WORKDIR /app
COPY . /src
RUN {run}
CMD ["python", "-m", "app"]
"""


@pytest.mark.parametrize(
    ("run", "late"),
    [
        ("cd /src && rm -rf tests", True),
        ("cd /src; rm -rf tests docs", True),
        ("cd / && cd src && rm -rf tests", True),
        ("rm -rf tests", False),  # /app/tests: nothing was written there
        ("(cd /src && true) && rm -rf tests", False),
        ('bash -c "cd /src" && rm -rf tests', False),
        ("cd /src || true; rm -rf tests", True),
        ("[ -d /src/tests ] && cd /src; rm -rf tests", False),  # where it runs is not known
    ],
)
def test_a_deletion_after_cd_is_read_where_cd_went(tmp_path: Path, run: str, late: bool) -> None:
    assert ((4, "late-deletion") in lint(tmp_path, LATE.format(run=run))) is late


@pytest.mark.parametrize(
    ("run", "cache"),
    [
        ("pip install flask && cd ~ && rm -rf .cache/pip", False),
        ("pip install flask && cd /root/.cache && rm -rf pip", False),
        ("pip install flask && cd && rm -rf .cache", False),
        ("pip install flask && rm -rf .cache/pip", True),  # /app/.cache/pip
        ("pip install flask && (cd /root && rm -rf .cache/pip)", False),
    ],
)
def test_a_cache_removed_after_cd_is_removed(tmp_path: Path, run: str, cache: bool) -> None:
    found = lint(tmp_path, f"FROM python:3.12-slim\nWORKDIR /app\nRUN {run}\n")
    assert ((3, "pip-cache-in-layer") in found) is cache

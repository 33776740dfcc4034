"""BuildKit mounts that keep a RUN's writes out of its layer: a cache mount keeps them for the
next build, a tmpfs or a bind mount (read-only, or `rw` with its writes discarded) keeps none.
Either way the cache a tool writes there is not in the image, so nothing is flagged."""

from __future__ import annotations

import datetime as dt

import pytest

from imgaudit.dockerfile.build import read_build
from imgaudit.dockerfile.lint import lint
from imgaudit.dockerfile.parse import parse_dockerfile
from imgaudit.dockerfile.project import ContextProject

TODAY = dt.date(2026, 12, 1)

# (base, the RUN after its mount flag, the cache it writes, the finding when kept)
INSTALLS = [
    ("python:3.12-slim", "pip install -r requirements.txt", "/root/.cache/pip", "pip-cache-in-layer"),
    ("python:3.12-slim", "pip install -r requirements.txt", "/root/.cache", "pip-cache-in-layer"),
    ("python:3.12-alpine", "apk add gcc", "/var/cache/apk", "apk-cache-left"),
    (
        "python:3.12-slim",
        "apt-get update && apt-get install -y --no-install-recommends curl",
        "/var/lib/apt/lists",
        "apt-lists-left",
    ),
]


def ids(text: str) -> list[str]:
    return [h.id for h in lint(read_build(parse_dockerfile(text), ContextProject(), None, {}), TODAY)]


def dockerfile(base: str, run: str) -> str:
    return f'FROM {base}\nWORKDIR /app\nCOPY requirements.txt .\nRUN {run}\nCMD ["python"]\n'


@pytest.mark.parametrize(("base", "run", "cache", "finding"), INSTALLS)
def test_without_a_mount_the_cache_is_flagged(base: str, run: str, cache: str, finding: str) -> None:
    assert finding in ids(dockerfile(base, run))


@pytest.mark.parametrize("mount", ["type=cache,target={}", "type=tmpfs,target={}", "type=bind,target={},rw"])
@pytest.mark.parametrize(("base", "run", "cache", "finding"), INSTALLS)
def test_a_mount_over_the_cache_keeps_it_out_of_the_layer(
    base: str, run: str, cache: str, finding: str, mount: str
) -> None:
    assert finding not in ids(dockerfile(base, f"--mount={mount.format(cache)} {run}"))


@pytest.mark.parametrize(("base", "run", "cache", "finding"), INSTALLS)
def test_a_secret_mount_is_no_place_for_a_cache(base: str, run: str, cache: str, finding: str) -> None:
    assert finding in ids(dockerfile(base, f"--mount=type=secret,id=netrc,target=/root/.netrc {run}"))

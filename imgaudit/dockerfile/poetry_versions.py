"""Which Poetry versions can exist, and which base images are end-of-life.

Facts of record, not guesses: Poetry's 1.x line ended with 1.8.5 (the next release was
2.0.0); Debian's LTS dates are from the Debian LTS schedule.
"""

from __future__ import annotations

import datetime as dt
import re

LAST_POETRY_1 = (1, 8, 5)
# The last Poetry that runs on an older Python: 1.1.15 on 2.7/3.5/3.6 (1.2 needs 3.7), 1.5.1 on
# 3.7 (1.6 needs 3.8), 1.8.5 on 3.8 (2.0 needs 3.9).
LAST_POETRY_FOR_PYTHON = (((3, 7), "1.1.15"), ((3, 8), "1.5.1"), ((3, 9), "1.8.5"))
_VERSION = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?$")
OFFICIAL_PYTHON = re.compile(r"^(?P<repo>(?:docker\.io/)?(?:library/)?python)(?::(?P<tag>[^@]+))?$")


def official_python(image: str) -> tuple[int, int] | None:
    """The Python (major, minor) an official `python:3.8-slim`-style image runs, else None."""
    match = OFFICIAL_PYTHON.match(image)
    version = re.match(r"^(\d+)\.(\d+)", match["tag"] or "") if match else None
    return (int(version[1]), int(version[2])) if version else None


def last_poetry_for(python: tuple[int, int] | None) -> str | None:
    """The newest Poetry that installs on this Python, when an older one than the newest."""
    for below, last in LAST_POETRY_FOR_PYTHON:
        if python is not None and python < below:
            return last
    return None


# Debian codename -> the day its (LTS) security support ended.
DEBIAN_END_OF_LIFE: dict[str, dt.date] = {
    "jessie": dt.date(2020, 6, 30),
    "stretch": dt.date(2022, 6, 30),
    "buster": dt.date(2024, 6, 30),
    "bullseye": dt.date(2026, 8, 31),
}
CURRENT_DEBIAN = "bookworm"


def impossible_poetry_version(version: str) -> bool:
    """A 1.x version past the last 1.x release (the article's `1.11.1`)."""
    match = _VERSION.match(version)
    if match is None or match["major"] != "1":
        return False
    parts = (1, int(match["minor"]), int(match["patch"] or 0))
    return parts > LAST_POETRY_1


def end_of_life_codename(image: str, today: dt.date) -> str | None:
    """The EOL Debian codename an image reference names (`python:3.11-slim-buster`), if any."""
    tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
    for codename, ended in DEBIAN_END_OF_LIFE.items():
        if re.search(rf"(?:^|-){codename}(?:$|-)", tag) and ended < today:
            return codename
    return None

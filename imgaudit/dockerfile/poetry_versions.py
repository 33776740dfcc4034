"""Which Poetry versions can exist, and which base images are end-of-life.

Facts of record, not guesses: Poetry's 1.x line ended with 1.8.5 (the next release was
2.0.0); Debian's LTS dates are from the Debian LTS schedule; Python's end-of-life dates from
the Python developer's guide (a release named only by its month ends on that month's last day).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from imgaudit.dockerfile.build import UV_PYTHON_IMAGE

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
    "bookworm": dt.date(2028, 6, 30),
}
# The codename of each numbered Debian release (`debian:10.13` is buster).
DEBIAN_CODENAMES = {8: "jessie", 9: "stretch", 10: "buster", 11: "bullseye", 12: "bookworm", 13: "trixie"}
CURRENT_DEBIAN = "bookworm"
# Python (major, minor) -> the day its security support ended (or ends). Older than the first
# entry: long ended. Newer than the last: not ended.
PYTHON_END_OF_LIFE: dict[tuple[int, int], dt.date] = {
    (2, 7): dt.date(2020, 1, 1),
    (3, 4): dt.date(2019, 3, 18),
    (3, 5): dt.date(2020, 9, 30),
    (3, 6): dt.date(2021, 12, 23),
    (3, 7): dt.date(2023, 6, 27),
    (3, 8): dt.date(2024, 10, 7),
    (3, 9): dt.date(2025, 10, 31),
    (3, 10): dt.date(2026, 10, 31),
    (3, 11): dt.date(2027, 10, 31),
    (3, 12): dt.date(2028, 10, 31),
    (3, 13): dt.date(2029, 10, 31),
    (3, 14): dt.date(2030, 10, 31),
}
# The official images, from Docker Hub or a mirror of its library (`public.ecr.aws/docker/library/`).
_OFFICIAL = r"^(?:docker\.io/|(?:[^/]+/)*library/)?{name}(?::(?P<tag>[^@]+))?(?:@.*)?$"
_OFFICIAL_PYTHON_ANY = re.compile(_OFFICIAL.format(name="python"))
_OFFICIAL_DEBIAN = re.compile(_OFFICIAL.format(name="debian"))
# `3.7.17-slim`, `3.8-alpine3.12`, `3.13.0rc2`, `2`: the Python release a tag names.
_PYTHON_TAG = re.compile(r"^(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.\d+)?(?:(?:a|b|rc)\d+)?(?:-|$)")
_DEBIAN_TAG = re.compile(r"^(?P<major>\d+)(?:\.\d+)*(?:-|$)")


def impossible_poetry_version(version: str) -> bool:
    """A 1.x version past the last 1.x release (the article's `1.11.1`)."""
    match = _VERSION.match(version)
    if match is None or match["major"] != "1":
        return False
    parts = (1, int(match["minor"]), int(match["patch"] or 0))
    return parts > LAST_POETRY_1


@dataclass(frozen=True, slots=True)
class EndOfLife:
    """What in a base image no longer gets security updates, and since when."""

    what: str  # "Python 3.7", "Debian 10 (buster)"
    ended: dt.date


def end_of_life(image: str, today: dt.date) -> tuple[EndOfLife, ...]:
    """The Python and the Debian release a base image's reference names, where their security
    support ended before `today`: the official python image's tag (`python:3.7.17-slim`,
    `python:3.8-alpine3.12`; a bare `python:3` is the newest), uv's Python images, the
    official debian image by number (`debian:10.13`), and a Debian codename in any tag."""
    found: list[EndOfLife] = []
    python = _python_release(image)
    if python is not None:
        ended = _python_ended(python)
        if ended is not None and ended < today:
            found.append(EndOfLife(f"Python {python[0]}.{python[1]}", ended))
    codename = _debian_codename(image)
    if codename is not None and DEBIAN_END_OF_LIFE.get(codename, today) < today:
        number = next(n for n, name in DEBIAN_CODENAMES.items() if name == codename)
        found.append(EndOfLife(f"Debian {number} ({codename})", DEBIAN_END_OF_LIFE[codename]))
    return tuple(found)


def _python_release(image: str) -> tuple[int, int] | None:
    uv = UV_PYTHON_IMAGE.match(image.rsplit("@", 1)[0])
    if uv is not None:
        major, minor = uv["python"].split(".")
        return int(major), int(minor)
    official = _OFFICIAL_PYTHON_ANY.match(image)
    version = _PYTHON_TAG.match(official["tag"] or "") if official else None
    if version is None:
        return None
    if version["minor"] is None:
        # `python:2` is 2.7, the last 2.x; `python:3` moves with every release.
        return (2, 7) if version["major"] == "2" else None
    return int(version["major"]), int(version["minor"])


def _python_ended(release: tuple[int, int]) -> dt.date | None:
    """The day its support ended: a release older than the newest listed that the table does
    not list (3.3, 2.6) ended before any listed one did."""
    if release in PYTHON_END_OF_LIFE:
        return PYTHON_END_OF_LIFE[release]
    return min(PYTHON_END_OF_LIFE.values()) if release < max(PYTHON_END_OF_LIFE) else None


def _debian_codename(image: str) -> str | None:
    """The Debian release a reference names: `debian:10.13-slim` by number, any image's tag by
    codename (`python:3.11-slim-buster`, `debian:buster-20240612`)."""
    debian = _OFFICIAL_DEBIAN.match(image)
    number = _DEBIAN_TAG.match(debian["tag"] or "") if debian else None
    if number is not None:
        return DEBIAN_CODENAMES.get(int(number["major"]))
    tag = _tag(image)
    return next((c for c in DEBIAN_CODENAMES.values() if re.search(rf"(?:^|-){c}(?:$|-)", tag)), None)


def _tag(image: str) -> str:
    name = image.split("@", 1)[0]
    return name.rpartition(":")[2] if ":" in name.rpartition("/")[2] else ""


def supported_python(today: dt.date) -> str | None:
    """The oldest Python release whose security support has not ended (None past the table)."""
    supported = [r for r, ended in PYTHON_END_OF_LIFE.items() if ended >= today]
    return f"{min(supported)[0]}.{min(supported)[1]}" if supported else None


def end_of_life_codename(image: str, today: dt.date) -> str | None:
    """The EOL Debian codename an image reference names (`python:3.11-slim-buster`), if any."""
    tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else ""
    for codename, ended in DEBIAN_END_OF_LIFE.items():
        if re.search(rf"(?:^|-){codename}(?:$|-)", tag) and ended < today:
            return codename
    return None

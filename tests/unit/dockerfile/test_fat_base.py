"""fat-base-image: the final image starts from a full Python image (compilers and headers),
whether the official one or one of uv's images built on it."""

from __future__ import annotations

import pytest

from tests.unit.dockerfile.test_mount_kinds import ids


@pytest.mark.parametrize(
    ("base", "fat"),
    [
        # uv's images with Python are built on the official image of the same tag: without
        # `-slim`, the full one (compilers and headers).
        ("ghcr.io/astral-sh/uv:python3.12-bookworm", True),
        ("ghcr.io/astral-sh/uv:0.5.2-python3.12-bookworm", True),
        ("ghcr.io/astral-sh/uv:python3.12-bookworm-slim", False),
        ("ghcr.io/astral-sh/uv:python3.12-alpine", False),
        ("python:3.12", True),
        ("python:3.12-slim", False),
    ],
)
def test_a_full_base_is_fat_whether_python_s_or_uv_s(base: str, fat: bool) -> None:
    text = f"FROM {base}\nWORKDIR /app\nCOPY . .\nRUN uv sync --frozen --no-dev --no-cache\n"
    assert ("fat-base-image" in ids(text)) is fat

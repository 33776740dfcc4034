"""A reference as the user typed it -> an opened `ImageSource`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from imgaudit.errors import SourceError
from imgaudit.sources.archive import open_path
from imgaudit.sources.interface import ImageSource


def open_reference(
    reference: str, *, image: str | None, platform: str | None, warn: Callable[[str], None]
) -> ImageSource:
    path = Path(reference)
    if path.exists():
        return open_path(path, image, platform, warn)
    raise SourceError("no such archive or image layout", where=reference)

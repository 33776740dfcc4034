"""Fixtures shared by the layer-cache and stored-report tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imgaudit.sources.archive import ArchiveSource


@pytest.fixture
def opened_layers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The layer indexes the archive source was asked to read."""
    opened: list[int] = []
    original = ArchiveSource.open_layer

    def spy(self: ArchiveSource, index: int):  # type: ignore[no-untyped-def]
        opened.append(index)
        return original(self, index)

    monkeypatch.setattr(ArchiveSource, "open_layer", spy)
    yield opened

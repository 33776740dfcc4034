"""What every image source provides to the pipeline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import BinaryIO

from imgaudit.model import ImageInfo, LayerDescriptor


class ImageSource(ABC):
    """An opened image: its description, its layers, and a raw stream per layer blob.

    Layer streams are the blobs as stored (compressed or not); the pipeline detects the
    compression from the bytes, so a source never has to trust a media type.
    """

    @property
    @abstractmethod
    def info(self) -> ImageInfo: ...

    @property
    @abstractmethod
    def layers(self) -> Sequence[LayerDescriptor]: ...

    @abstractmethod
    def open_layer(self, index: int) -> AbstractContextManager[BinaryIO]: ...

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release files or connections; safe to call twice."""

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

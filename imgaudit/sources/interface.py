"""What every image source provides to the pipeline."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import BinaryIO

from imgaudit.model import BaseImage, ImageInfo, LayerAnalysis, LayerDescriptor


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

    def analysis(self, index: int) -> LayerAnalysis | None:
        """A layer analysed while the source was opened (an engine streams its layers before
        the manifest that orders them); None means: read it with `open_layer`."""
        return None

    def layer_identity(self, index: int) -> str | None:
        """A name two layers of this image share only when they are one blob listed twice (the
        same layer repeated): such a blob is read once. None: read the layer each time."""
        return self.layers[index].digest  # content-addressed wherever a source gives one

    @property
    def trusts_diff_ids(self) -> bool:
        """Whether the config's diff_ids may key the analysis cache without hashing the layers:
        true where the layers and the config come from one place that is as trusted as the
        image (a file, a local engine); a registry's layers are hashed as they are read."""
        return True

    def base_hint(self) -> BaseImage | None:
        """The base image as the source knows it (a local engine image), or None."""
        return None

    def settle(self) -> None:  # noqa: B027 - most sources check each layer as it is read
        """Wait for the integrity checks still running on the layers read so far; raise
        LayerError for one whose bytes do not match its digest. Nothing read from a source may
        be reported or cached before this has returned."""

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release files or connections; safe to call twice."""

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Layer blobs as stored -> the tar stream inside, whatever the compression."""

from __future__ import annotations

import gzip
import io
from typing import IO, BinaryIO, cast

import zstandard

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _ForwardOnly(io.RawIOBase):
    """Hides `seekable()` of decompressors: GzipFile claims to seek, by decompressing again."""

    def __init__(self, stream: IO[bytes] | gzip.GzipFile) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)


def compression_of(head: bytes) -> str:
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def decompressed(raw: BinaryIO) -> BinaryIO:
    """The tar stream inside a blob: gzip and zstd are detected by their magic bytes."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(io.RawIOBase, raw))
    kind = compression_of(buffered.peek(4)[:4])
    if kind == "gzip":
        return cast(BinaryIO, _ForwardOnly(gzip.GzipFile(fileobj=buffered, mode="rb")))
    if kind == "zstd":
        reader = zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)
        return cast(BinaryIO, _ForwardOnly(reader))
    return cast(BinaryIO, buffered)

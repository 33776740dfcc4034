"""Layer blobs as stored -> the tar stream inside, whatever the compression."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from collections.abc import Callable
from typing import IO, BinaryIO, cast

import zstandard

try:
    # python-isal: gzip layers decompress 2.8x faster than with stdlib zlib (measured by
    # benchmarks/decompression_speed.py here: 724 vs 257 MB/s; zlib-ng 653 MB/s).
    from isal.igzip import IGzipFile as _GzipReader
    from isal.isal_zlib import error as _IsalError
except ImportError:  # a platform without its wheels: the stdlib
    _GzipReader = gzip.GzipFile  # type: ignore[misc, assignment]
    _IsalError = zlib.error  # type: ignore[assignment]

# What a corrupt or truncated compressed layer raises, whichever decompressor read it
# (gzip.BadGzipFile is an OSError, reported as unreadable).
DECOMPRESSION_ERRORS: tuple[type[Exception], ...] = (
    EOFError,
    zlib.error,
    lzma.LZMAError,
    zstandard.ZstdError,
    cast(type[Exception], _IsalError),
)

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# A zstd stream may open with a skippable frame (magic 0x184D2A50-5F, little-endian): the
# engines' detection (moby's DetectCompression) counts it as zstd, and so does this one.
_ZSTD_SKIPPABLE_TAIL = b"\x2a\x4d\x18"
# Docker loads bzip2 and xz layers too (moby's DecompressStream); the OCI spec names neither.
XZ_MAGIC = b"\xfd7zXZ\x00"
BZIP2_MAGIC = b"BZh"
_BZIP2_BLOCKS = (b"1AY&SY", b"\x17rE8P\x90")  # a first block, or the end of an empty stream
MAGIC_BYTES = 10  # the longest prefix `compression_of` looks at
# An xz stream names the dictionary its decoder must allocate (up to 4 GiB), a zstd frame
# its window (up to 3.75 TiB): refuse more than this. zstd's own default cap, 128 MiB, refused
# `zstd --long=28` layers; the engines' zstd reader (klauspost's) allows 512 MiB.
DECODER_MEMORY_LIMIT = 256 * 1024 * 1024
XZ_MEMORY_LIMIT = DECODER_MEMORY_LIMIT
_INFLATE_CHUNK = 1 << 20


class _Inflating(io.RawIOBase):
    """A one-shot decompressor object (xz, bzip2) as a stream; concatenated streams are read
    one after the other, as `xz -d` and `bzip2 -d` do."""

    def __init__(self, raw: BinaryIO, new: Callable[[], lzma.LZMADecompressor | bz2.BZ2Decompressor]) -> None:
        self._raw, self._new = raw, new
        self._decompressor = new()
        self._pending = b""  # input not yet given to the decompressor

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while True:
            if self._decompressor.eof:
                rest = self._decompressor.unused_data + self._pending
                self._pending = rest or self._raw.read(_INFLATE_CHUNK)
                if not self._pending.strip(b"\0"):  # xz allows zero padding between streams
                    return 0
                self._decompressor = self._new()
            if self._decompressor.needs_input and not self._pending:
                self._pending = self._raw.read(_INFLATE_CHUNK)
                if not self._pending:
                    raise EOFError("compressed stream ended before its end marker")
            data = self._decompressor.decompress(self._pending, len(buffer))
            self._pending = b""
            if data:
                buffer[: len(data)] = data
                return len(data)


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
    """gzip, zstd, xz, bzip2 or none, from the first `MAGIC_BYTES` of a blob."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC) or (head[1:4] == _ZSTD_SKIPPABLE_TAIL and head[0] & 0xF0 == 0x50):
        return "zstd"
    if head.startswith(XZ_MAGIC):
        return "xz"
    # "BZh" alone could open a tar whose first name is "BZh...": the block magic must follow.
    if head[:3] == BZIP2_MAGIC and head[3:4].isdigit() and head[4:10] in _BZIP2_BLOCKS:
        return "bzip2"
    return "none"


def decompressed(raw: BinaryIO) -> BinaryIO:
    """The tar stream inside a blob: gzip and zstd are detected by their magic bytes."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(io.RawIOBase, raw))
    kind = compression_of(buffered.peek(MAGIC_BYTES)[:MAGIC_BYTES])
    if kind == "gzip":
        gzip_reader = _GzipReader(fileobj=buffered, mode="rb")  # type: ignore[no-untyped-call]
        return cast(BinaryIO, _ForwardOnly(gzip_reader))
    if kind == "zstd":
        reader = zstandard.ZstdDecompressor(max_window_size=DECODER_MEMORY_LIMIT).stream_reader(
            buffered, read_across_frames=True
        )
        return cast(BinaryIO, _ForwardOnly(reader))
    if kind == "xz":
        inflating = _Inflating(buffered, lambda: lzma.LZMADecompressor(memlimit=XZ_MEMORY_LIMIT))
        return cast(BinaryIO, io.BufferedReader(inflating, _INFLATE_CHUNK))
    if kind == "bzip2":
        return cast(BinaryIO, io.BufferedReader(_Inflating(buffered, bz2.BZ2Decompressor), _INFLATE_CHUNK))
    return cast(BinaryIO, buffered)


def decompression_problem(exc: Exception) -> str:
    """What a decompressor's error means, for a one-line message."""
    if "memory" in str(exc).lower():  # xz: "Memory usage limit reached"; zstd: "... too much memory ..."
        return f"asks for more than {DECODER_MEMORY_LIMIT} bytes of memory to decompress (refused)"
    return f"compressed data is corrupt or truncated ({exc})"

"""How fast can Python here decompress a layer? Prints a table (MB/s of tar output).

    python benchmarks/decompression_speed.py            # a tar of this Python's stdlib
    python benchmarks/decompression_speed.py layer.tar  # any uncompressed tar

The tar is compressed once per format (gzip level 6, as `docker push` writes; zstd level
3), then each decompressor streams it in 1 MiB reads, as the layer walk does: stdlib zlib
(gzip.GzipFile), python-isal (igzip), zlib-ng (gzip_ng), zstandard. Best of 3 rounds.
A decompressor that is not installed is reported as such.
"""

from __future__ import annotations

import gzip
import importlib
import io
import sys
import sysconfig
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

CHUNK = 1 << 20
ROUNDS = 3


def stdlib_tar() -> bytes:
    """This Python's standard library (sources, bytecode, extension modules) as a layer."""
    buffer = io.BytesIO()

    def no_site_packages(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return None if "/site-packages" in info.name else info

    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(sysconfig.get_paths()["stdlib"], arcname="usr/lib/python3", filter=no_site_packages)
    return buffer.getvalue()


def _drain(stream: IO[bytes]) -> int:
    total = 0
    while chunk := stream.read(CHUNK):
        total += len(chunk)
    return total


def _gzip_reader(module: str, attribute: str) -> Callable[[bytes], IO[bytes]] | None:
    try:
        opener: Any = getattr(importlib.import_module(module), attribute)
    except ImportError:
        return None
    return lambda blob: opener(fileobj=io.BytesIO(blob), mode="rb")  # type: ignore[no-any-return]


def _zstd_reader() -> Callable[[bytes], IO[bytes]] | None:
    try:
        import zstandard
    except ImportError:
        return None
    return lambda blob: zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True)  # type: ignore[no-any-return]


def measure(reader: Callable[[bytes], IO[bytes]], blob: bytes, expected: int) -> tuple[float, float]:
    """Best (wall, CPU) seconds of ROUNDS full decompressions."""
    best_wall = best_cpu = float("inf")
    for _ in range(ROUNDS):
        wall, cpu = time.perf_counter(), time.process_time()
        if _drain(reader(blob)) != expected:
            raise SystemExit("decompressed size differs")
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu


def rows(data: bytes) -> list[tuple[str, str, float | None, float | None]]:
    import zstandard

    compressed = {
        "gzip": gzip.compress(data, 6, mtime=0),
        "zstd": zstandard.ZstdCompressor(level=3).compress(data),
    }
    readers: list[tuple[str, str, Callable[[bytes], IO[bytes]] | None]] = [
        ("gzip", "stdlib zlib (gzip.GzipFile)", _gzip_reader("gzip", "GzipFile")),
        ("gzip", "isal (isal.igzip)", _gzip_reader("isal.igzip", "IGzipFile")),
        ("gzip", "zlib-ng (zlib_ng.gzip_ng)", _gzip_reader("zlib_ng.gzip_ng", "GzipNGFile")),
        ("zstd", "zstandard", _zstd_reader()),
    ]
    out: list[tuple[str, str, float | None, float | None]] = []
    for kind, name, reader in readers:
        if reader is None:
            out.append((kind, f"{name}: not installed", None, None))
            continue
        wall, cpu = measure(reader, compressed[kind], len(data))
        out.append((kind, name, len(data) / wall / 1e6, len(data) / cpu / 1e6))
    return out


def print_table(data: bytes) -> None:
    print(f"decompression of a {len(data) / 1e6:.0f} MB tar, 1 MiB reads, best of {ROUNDS}")
    print(f"| {'format':<6} | {'decompressor':<30} | {'MB/s wall':>9} | {'MB/s CPU':>9} |")
    print(f"| {'-' * 6} | {'-' * 30} | {'-' * 9}:| {'-' * 9}:|")
    for kind, name, wall, cpu in rows(data):
        shown = (f"{wall:9.0f}", f"{cpu:9.0f}") if wall and cpu else ("-".rjust(9), "-".rjust(9))
        print(f"| {kind:<6} | {name:<30} | {shown[0]} | {shown[1]} |")


if __name__ == "__main__":
    print_table(Path(sys.argv[1]).read_bytes() if len(sys.argv) > 1 else stdlib_tar())

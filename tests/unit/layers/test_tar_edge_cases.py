"""Tar and compression edge cases an outsider would try (issue 11, second pass): each layer
is read as the engines read it, and its names and sizes agree with Python's own `tarfile`,
an independent reader.

Sparse files come from GNU tar (`tests/assets/tar-edge/make.sh`): Python cannot write them.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import zstandard

from imgaudit.errors import LayerError
from imgaudit.layers.walk import analyze_layer
from imgaudit.model import EntryKind
from imgaudit.sources.compression import decompressed
from tests.support.rawtar import data, header

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "tar-edge"


def _walk(blob: bytes) -> list[tuple[str, int]]:
    analysis = analyze_layer(decompressed(io.BytesIO(blob)))  # type: ignore[arg-type]
    return [(e.path, e.size) for e in analysis.entries if e.kind is EntryKind.FILE]


def _tarfile_view(blob: bytes) -> list[tuple[str, int]]:
    """Regular files as Python's tarfile reads the same (decompressed) bytes."""
    data = decompressed(io.BytesIO(blob)).read()  # type: ignore[arg-type]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [(m.name.lstrip("./"), m.size) for m in tar if m.isfile()]


def _tar(*files: tuple[str, bytes], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


LAYER = _tar(("etc/os-release", b"a" * 700), ("usr/bin/tool", b"b" * 5000))
SKIPPABLE_FRAME = b"\x50\x2a\x4d\x18" + (8).to_bytes(4, "little") + b"metadata"


@pytest.mark.parametrize(
    "name",
    [
        "sparse-gnu.tar.gz",
        "sparse-gnu-extended.tar.gz",
        "sparse-pax-0.0.tar.gz",
        "sparse-pax-0.1.tar.gz",
        "sparse-pax-1.0.tar.gz",
    ],
)
def test_sparse_files_have_their_real_name_and_size_and_hide_nothing_after_them(name: str) -> None:
    blob = (ASSETS / name).read_bytes()
    walked = _walk(blob)
    assert walked == _tarfile_view(blob)
    assert walked[-1] == ("after.txt", 6)  # the old GNU map's extension blocks were skipped
    assert walked[0][1] in (10 * 2**20, 20 * 2**20)  # the file as extracted, holes included


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(lzma.compress(LAYER), id="xz"),
        pytest.param(lzma.compress(LAYER[:3000]) + lzma.compress(LAYER[3000:]), id="xz-two-streams"),
        pytest.param(bz2.compress(LAYER), id="bzip2"),
        pytest.param(bz2.compress(LAYER[:3000]) + bz2.compress(LAYER[3000:]), id="bzip2-two-streams"),
        pytest.param(SKIPPABLE_FRAME + zstandard.ZstdCompressor().compress(LAYER), id="zstd-skippable-first"),
        pytest.param(zstandard.ZstdCompressor().compress(LAYER) + SKIPPABLE_FRAME, id="zstd-skippable-last"),
        pytest.param(gzip.compress(LAYER[:3000]) + gzip.compress(LAYER[3000:]), id="gzip-two-members"),
    ],
)
def test_every_compression_the_engines_load_is_read(blob: bytes) -> None:
    assert _walk(blob) == [("etc/os-release", 700), ("usr/bin/tool", 5000)]


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(lzma.compress(LAYER)[:-30], id="xz-truncated"),
        pytest.param(bz2.compress(LAYER)[:-30], id="bzip2-truncated"),
    ],
)
def test_a_truncated_xz_or_bzip2_layer_is_an_error(blob: bytes) -> None:
    with pytest.raises((LayerError, EOFError, lzma.LZMAError, OSError)):
        _walk(blob)


def test_an_xz_layer_asking_for_a_huge_dictionary_is_refused() -> None:
    # Compressed in a child: the 1.5 GiB dictionary takes the compressor to 2 GB, which this
    # process would then keep as its peak (and every later child inherits in ru_maxrss).
    compress = "import lzma, sys; sys.stdout.buffer.write(lzma.compress(sys.stdin.buffer.read(), "
    compress += "format=lzma.FORMAT_XZ, filters=[{'id': lzma.FILTER_LZMA2, 'dict_size': 1536 * 2**20}]))"
    blob = subprocess.run(
        [sys.executable, "-c", compress], input=LAYER, capture_output=True, check=True
    ).stdout
    with pytest.raises(lzma.LZMAError, match=r"[Mm]emory"):
        _walk(blob)


def test_a_tar_whose_first_name_starts_like_bzip2_is_a_tar() -> None:
    blob = _tar(("BZh9-notes", b"n" * 10))
    assert _walk(blob) == [("BZh9-notes", 10)]


def test_a_zero_byte_layer_is_an_empty_layer_as_engines_read_it() -> None:
    assert analyze_layer(io.BytesIO(b"")).entries == ()


def test_names_are_cleaned_as_engines_clean_them() -> None:
    blob = _tar(("a/../ok", b"1" * 6), ("/../rooted", b"2" * 4), ("./x/./y", b"3"), ("../escape", b"4"))
    analysis = analyze_layer(io.BytesIO(blob))
    assert [(e.path, e.size) for e in analysis.entries] == [("ok", 6), ("rooted", 4), ("x/y", 1)]
    assert len(analysis.warnings) == 1 and "'../escape'" in analysis.warnings[0]


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_long_names_and_links_in_every_format(fmt: int) -> None:
    long_dir = "d" * 90 + "/" + "e" * 60  # ustar splits it into prefix and name
    files = [(f"{long_dir}/file", b"z" * 33)] if fmt == tarfile.USTAR_FORMAT else [("n" * 300, b"z" * 33)]
    blob = _tar(*files, fmt=fmt)
    assert _walk(blob) == _tarfile_view(blob) == [(files[0][0], 33)]


@pytest.mark.parametrize("realsize", [str(1 << 63), "1" + "0" * 40])
def test_a_sparse_size_beyond_what_go_reads_is_refused(realsize: str) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("f")
        info.size, info.pax_headers = 5, {"GNU.sparse.realsize": realsize, "GNU.sparse.name": "s"}
        tar.addfile(info, io.BytesIO(b"hello"))
    with pytest.raises(LayerError, match="sparse size beyond"):
        _walk(buffer.getvalue())


def test_an_old_gnu_sparse_header_with_a_stray_byte_in_its_size_is_a_corrupt_layer() -> None:
    """Found by the fuzz harness: the realsize field of an old GNU sparse header ('S') holding a
    byte that is not octal raised ValueError out of the walk."""
    header = bytearray(512)
    header[0:8] = b"sparse\0\0"
    header[100:108] = b"0000644\0"
    header[124:136] = b"00000000000\0"
    header[156] = ord("S")
    header[257:265] = b"ustar  \0"
    header[483:495] = b"\x0100120000000"
    header[148:156] = b"        "
    header[148:156] = f"{sum(header):06o}\0 ".encode()
    with pytest.raises(LayerError, match="corrupt sparse size"):
        _walk(bytes(header) + bytes(1024))


@pytest.mark.parametrize(
    ("field", "read"),
    [
        (b"0000644\0", True),
        (b"  644 \0\0", True),  # spaces and NULs trimmed from both ends
        (b"\0\0\0\0\0\0\0\0", True),  # empty: 0
        (b"12\0xyz!\0", True),  # cut at the first NUL once trimmed
        (b"\x80\0\0\0\0\0\x01\x00", True),  # GNU base-256
        (b"1 2\0\0\0\0\0", False),  # a space inside the digits
        (b"0000648\0", False),  # not an octal digit
        (b"12 \0xyz\0", False),  # the cut leaves "12 ", trailing space and all
    ],
)
def test_header_numbers_are_read_as_gos_parse_numeric_reads_them(field: bytes, read: bool) -> None:
    def with_mode(block: bytearray) -> None:
        block[100:108] = field

    blob = header("a", 1, edit=with_mode) + data(b"x") + bytes(1024)
    if read:
        assert _walk(blob) == [("a", 1)]
    else:
        with pytest.raises(LayerError, match="not a tar"):
            _walk(blob)

"""Layer bytes that lie plainly in a file are read by mapping it (`layers.mapped`): the walk
and the digest check must see exactly what reading the stream gives, window edges included."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from imgaudit.errors import LayerError
from imgaudit.layers import tarstream
from imgaudit.layers.mapped import file_region
from imgaudit.layers.tarstream import TarReader
from imgaudit.sources.background_digest import BackgroundDigestCheck
from imgaudit.sources.store import TarArchiveStore


class _Unseekable(io.RawIOBase):
    """A pipe-like stream: the reference reading, with no file underneath."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        return self._data.readinto(buffer)


def _layer(sizes: list[int]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for index, size in enumerate(sizes):
            info = tarfile.TarInfo(f"d/{'n' * (index % 3) * 90}RECORD{index}")  # some need pax names
            info.size = size
            tar.addfile(info, io.BytesIO(bytes((index + k) % 251 for k in range(size))))
    return out.getvalue()


def _walk(reader: TarReader) -> list[tuple[str, int, int, str, bytes]]:
    return [(name, kind, size, link, reader.content(300)) for name, kind, size, link in reader]


def _archive(tmp_path: Path, layer: bytes) -> Path:
    path = tmp_path / "outer.tar"
    with tarfile.open(path, "w") as outer:
        info = tarfile.TarInfo("pad")  # puts the layer at an offset that is not page-aligned
        info.size = 700
        outer.addfile(info, io.BytesIO(b"p" * 700))
        info = tarfile.TarInfo("layer.tar")
        info.size = len(layer)
        outer.addfile(info, io.BytesIO(layer))
    return path


@pytest.mark.parametrize("window", [4096, 8192, 1 << 20])
def test_a_mapped_walk_reads_what_the_stream_gives_across_window_edges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    layer = _layer([0, 1, 511, 512, 513, 4000, 5000, 9000, 20, 0, 70000, 3])
    monkeypatch.setattr(tarstream, "_MAP_WINDOW", window)
    store = TarArchiveStore(_archive(tmp_path, layer))
    with store.open("layer.tar") as stream:
        stream.peek(6)  # as the compression sniffing does: the buffer runs ahead of the position
        mapped = TarReader(stream)
        assert mapped._region is not None
        assert _walk(mapped) == _walk(TarReader(io.BufferedReader(_Unseekable(layer))))


def test_a_truncated_mapped_layer_fails_as_a_read_one_does(tmp_path: Path) -> None:
    layer = _layer([3000, 3000])[: -2048 - 1500]  # cut inside the last member's data
    path = tmp_path / "cut.tar"
    path.write_bytes(layer)
    with path.open("rb") as stream:
        assert file_region(stream) is not None
        with pytest.raises(LayerError, match="truncated"):
            list(TarReader(stream))


def test_only_a_plain_regular_files_bytes_are_mapped(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    read, write = os.pipe()
    try:
        with open(read, "rb", closefd=False) as pipe:
            assert file_region(pipe) is None
    finally:
        os.close(read)
        os.close(write)
    assert file_region(io.BufferedReader(_Unseekable(b"x"))) is None
    with path.open("rb") as stream:
        stream.read(10)
        region = file_region(stream)
        assert region is not None and (region.offset, region.size) == (10, 90)


def test_a_member_said_to_reach_past_the_files_end_is_not_mapped(tmp_path: Path) -> None:
    path = _archive(tmp_path, _layer([100]))
    store = TarArchiveStore(path)
    os.truncate(path, 512 + 1024 + 512 + 600)  # pad, the layer's header, and only part of it
    with store.open("layer.tar") as stream:
        assert file_region(stream) is None


@pytest.mark.parametrize("cut", [0, 5000])
def test_the_background_digest_of_a_mapped_blob_is_exact(tmp_path: Path, cut: int) -> None:
    blob = os.urandom(3 * (4 << 20) + 12345)
    path = tmp_path / "blob"
    path.write_bytes(b"h" * 777 + blob[: len(blob) - cut])
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    check = BackgroundDigestCheck(
        io.BytesIO(), os.open(path, os.O_RDONLY), 777, len(blob), digest, "here", "blob"
    )
    with check:
        if cut:
            with pytest.raises(LayerError, match="does not match its digest"):
                check.finish()
        else:
            check.finish()

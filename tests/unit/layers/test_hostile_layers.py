"""Hostile or unusual layer tars (issue 11): bounded memory, engines' reading of names."""

from __future__ import annotations

import io
import tarfile

import pytest

from imgaudit.errors import LayerError
from imgaudit.layers.tarstream import MAX_HEADER_EXTENSION
from imgaudit.layers.walk import analyze_layer
from imgaudit.layers.wanted import ContentBudget
from imgaudit.model import EntryKind
from tests.support.imagespec import File, Layer, RawMember, layer_tar


class _Endless(io.RawIOBase):
    """A stream that would hand out `size` bytes: reading them all would be the failure."""

    def __init__(self, head: bytes, size: int) -> None:
        self.head, self.size, self.position = head, size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        if self.position >= self.size:
            return 0
        count = min(len(buffer), self.size - self.position)
        chunk = self.head[self.position : self.position + count]
        chunk += bytes(count - len(chunk))
        buffer[:count] = chunk
        self.position += count
        return count


def extension_header(kind: bytes, size: int) -> bytes:
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = kind
    info.size = size
    return info.tobuf(format=tarfile.GNU_FORMAT)  # base-256 for sizes octal cannot hold


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME])
@pytest.mark.parametrize("size", [1 << 40, 1 << 30, MAX_HEADER_EXTENSION + 1])
def test_a_huge_header_extension_is_refused_before_it_is_read(kind: bytes, size: int) -> None:
    stream = _Endless(extension_header(kind, size), 512 + size)
    with pytest.raises(LayerError, match="is refused"):
        analyze_layer(io.BufferedReader(stream))  # type: ignore[arg-type]
    assert stream.position < 1 << 20  # nothing near the declared size was read


def test_kept_contents_stop_at_the_budget_with_a_warning_not_an_error() -> None:
    records = [File(f"site-packages/p{i}-1.0.dist-info/RECORD", b"r" * 4000) for i in range(10)]
    budget = ContentBudget(limit=10_000)
    analysis = analyze_layer(io.BytesIO(layer_tar(Layer(records))), budget)
    assert len(analysis.contents) == 2
    assert sum(len(c) for c in analysis.contents.values()) <= 10_000
    assert any("8 small files" in w and "not kept" in w for w in analysis.warnings)
    assert sum(e.size for e in analysis.entries if e.kind is EntryKind.FILE) == 40_000  # bytes all counted


def test_absolute_names_are_read_under_the_root_as_engines_extract_them() -> None:
    data = layer_tar(
        Layer(
            [
                RawMember("/", b""),
                RawMember("/bar", b"12345"),
                RawMember("/etc/../x", b""),  # Go's filepath.Clean: /x, under the root
                RawMember("../y", b""),  # climbs out: the engine refuses it
            ],
            auto_parents=False,
        )
    )
    analysis = analyze_layer(io.BytesIO(data))
    assert [(e.path, e.size) for e in analysis.entries] == [("bar", 5), ("x", 0)]
    assert len(analysis.warnings) == 1 and "escapes" in analysis.warnings[0]


def _pax_layer(*members: tarfile.TarInfo) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            tar.addfile(member, io.BytesIO(bytes(member.size)))
    return buffer.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "", size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, size
    return info


def test_names_and_link_targets_no_engine_extracts_are_left_out_with_a_warning() -> None:
    layer = _pax_layer(
        _member("./" * 3_000 + "short", size=4),  # long as written, 5 bytes as extracted: kept
        _member("é" * 2_048, size=9),  # 2,048 characters, 4,096 bytes in UTF-8: left out
        _member("link", tarfile.SYMTYPE, "t" * 4_096),  # symlink(2) takes the target as written
        _member("hard", tarfile.LNKTYPE, "./" * 3_000 + "short"),  # cleaned: `short`, kept
    )
    analysis = analyze_layer(io.BytesIO(layer))
    assert [(e.path, e.kind, e.size) for e in analysis.entries] == [
        ("short", EntryKind.FILE, 4),
        ("hard", EntryKind.HARDLINK, 0),
    ]
    assert [w.split(" (")[0] for w in analysis.warnings] == [
        "ignored tar entry whose name is longer than 4095 bytes",
        "ignored tar entry whose link target is longer than 4095 bytes",
    ]

"""The walk reads a layer tar strictly: every malformed stream is a LayerError."""

from __future__ import annotations

import io
import tarfile

import pytest

from imgaudit.errors import LayerError
from imgaudit.layers.walk import analyze_layer
from imgaudit.model import EntryKind
from tests.support.imagespec import (
    File,
    Hardlink,
    Layer,
    Opaque,
    RawMember,
    Symlink,
    Whiteout,
    file,
    layer_tar,
)


class _Unseekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def kinds(data: bytes) -> dict[str, tuple[EntryKind, int]]:
    return {e.path: (e.kind, e.size) for e in analyze_layer(io.BytesIO(data)).entries}


def test_entries_whiteouts_and_opaque_markers_are_recognised() -> None:
    data = layer_tar(
        Layer(
            [
                file("usr/bin/tool", 1234),
                Symlink("usr/bin/alias", "tool"),
                Hardlink("usr/bin/again", "usr/bin/tool"),
                Whiteout("var/cache/old"),
                Opaque("opt/app"),
                RawMember("opt/.wh..wh.plnk", b""),  # AUFS bookkeeping: meaningless here
            ]
        )
    )
    found = kinds(data)
    assert found["usr/bin/tool"] == (EntryKind.FILE, 1234)
    assert found["usr/bin/alias"] == (EntryKind.SYMLINK, 0)
    assert found["usr/bin/again"] == (EntryKind.HARDLINK, 0)
    assert found["var/cache/old"] == (EntryKind.WHITEOUT, 0)
    assert found["opt/app"] == (EntryKind.OPAQUE, 0)
    assert found["usr/bin"] == (EntryKind.DIR, 0)
    assert not any("plnk" in path for path in found)


def test_paths_are_normalised_and_escapes_are_never_trusted() -> None:
    # An absolute name is read as engines extract it, under the root (issue 11); `..` escapes.
    data = layer_tar(
        Layer(
            [
                RawMember("./usr//lib/x.so/", b""),
                RawMember("./etc/hosts", b"127.0.0.1 localhost\n"),
                RawMember("../etc/shadow", b"evil"),
                RawMember("/etc/passwd", b"evil"),
                RawMember("a/../../b", b"evil"),
            ],
            auto_parents=False,
        )
    )
    analysis = analyze_layer(io.BytesIO(data))
    paths = {e.path for e in analysis.entries}
    assert paths == {"usr/lib/x.so", "etc/hosts", "etc/passwd"}
    assert len(analysis.warnings) == 2
    assert all("escapes the image root" in w for w in analysis.warnings)


def test_long_names_in_pax_and_gnu_formats() -> None:
    long_path = "usr/lib/" + "/".join(["very-long-directory-name"] * 8) + "/module.py"
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
            info = tarfile.TarInfo(long_path)
            info.size = 10
            tar.addfile(info, io.BytesIO(b"0123456789"))
        assert kinds(buffer.getvalue()) == {long_path: (EntryKind.FILE, 10)}


def test_small_files_classification_needs_are_kept_big_ones_are_not() -> None:
    passwd = b"root:x:0:0:root:/root:/bin/sh\n"
    data = layer_tar(
        Layer([File("etc/passwd", passwd), file("usr/lib/libbig.so", 50_000), File("app/poetry.lock", b"x")])
    )
    contents = analyze_layer(io.BytesIO(data)).contents
    assert contents == {"etc/passwd": passwd, "app/poetry.lock": b"x"}


def test_seekable_and_streamed_layers_give_the_same_analysis() -> None:
    data = layer_tar(Layer([file(f"data/f{i}", 700 * i) for i in range(20)] + [File("etc/passwd", b"root")]))
    assert analyze_layer(io.BytesIO(data)) == analyze_layer(io.BufferedReader(_Unseekable(data)))  # type: ignore[arg-type]


@pytest.mark.parametrize("seekable", [True, False])
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d[: 1536 + 200], "truncated"),  # inside a member's contents
        (lambda d: d[: len(d) - 1024 * 10 if len(d) > 20480 else 2048], "truncated"),
        (lambda d: d[:3584] + b"\xff" * 512 + d[4096:], "corrupt tar header"),  # 2nd header
        # (zero bytes is an empty layer, as engines read it: test_tar_edge_cases)
        (lambda d: b"this is not a tar file" * 40, "not a tar"),
    ],
)
def test_malformed_layers_raise(seekable: bool, damage: object, message: str) -> None:
    data = layer_tar(Layer([file("a/b", 3000), file("a/c", 100)], auto_parents=False))
    broken = damage(data)  # type: ignore[operator]
    stream = io.BytesIO(broken) if seekable else io.BufferedReader(_Unseekable(broken))
    with pytest.raises(LayerError, match=message):
        analyze_layer(stream)  # type: ignore[arg-type]


@pytest.mark.parametrize("seekable", [True, False])
def test_a_stream_that_ends_on_a_member_boundary_ends_there_as_engines_read_it(seekable: bool) -> None:
    # Go's archive/tar takes EOF on a member boundary (its padding included) as the end;
    # umoci 0.4.7 writes layers so. A layer cut there is caught by its digest, not here.
    data = layer_tar(Layer([file("a", 512), file("b", 300)], auto_parents=False))
    for cut, names in ((512 + 512, ["a"]), (512 * 3 + 300, ["a", "b"])):
        stream = io.BytesIO(data[:cut]) if seekable else io.BufferedReader(_Unseekable(data[:cut]))
        assert [e.path for e in analyze_layer(stream).entries] == names  # type: ignore[arg-type]
    inside = data[: 512 * 3 + 299]  # one byte of `b` missing: truncated
    stream = io.BytesIO(inside) if seekable else io.BufferedReader(_Unseekable(inside))
    with pytest.raises(LayerError, match="truncated inside b"):
        analyze_layer(stream)  # type: ignore[arg-type]


def test_a_long_name_cut_after_a_slash_in_the_ustar_field_is_still_a_file() -> None:
    # The ustar name field keeps the first 100 bytes; here they end with "/".
    long_path = "d" * 59 + "/" + "e" * 40 + "/__init__.py"
    data = layer_tar(Layer([File(long_path, b"x" * 62)], auto_parents=False))
    assert kinds(data) == {long_path: (EntryKind.FILE, 62)}


def test_headers_decode_like_tarfile_on_a_real_mixed_archive() -> None:
    from imgaudit.layers.tarstream import iter_members

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for index, name in enumerate(["a/" * 60 + "x", "b/é-ünïcode.txt", "c/" + "n" * 99, "d"]):
            info = tarfile.TarInfo(name)
            info.size = index * 700
            info.uid = 10**9  # does not fit the octal field: pax
            tar.addfile(info, io.BytesIO(b"z" * info.size))
    data = buffer.getvalue()
    with tarfile.open(fileobj=io.BytesIO(data)) as reference:
        expected = [(m.name, m.size) for m in reference]
    assert [(m.name, m.size) for m, _ in iter_members(io.BytesIO(data))] == expected

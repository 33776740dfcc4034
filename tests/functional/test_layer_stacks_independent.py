"""Layer stacks an outsider would try, audited from a classic archive and compared with an
independent count (tests/support/independent.py: Python's tarfile and the OCI rules applied
the plain way): per-layer bytes, wasted bytes per layer, final bytes."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.conftest import audit_path
from tests.support.imagespec import write_tar
from tests.support.independent import figures

Member = tuple[str, bytes, bytes, str]  # name, tar type, data, link target


def f(name: str, size: int, seed: bytes = b"x") -> Member:
    return (name, tarfile.REGTYPE, seed * size, "")


def member(name: str, kind: bytes, link: str = "") -> Member:
    return (name, kind, b"", link)


def layer(*members: Member) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data, link in members:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, link, len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def classic(tmp_path: Path, layers: list[bytes]) -> Path:
    diff_ids = ["sha256:" + hashlib.sha256(data).hexdigest() for data in layers]
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    )
    files = {f"l{i}/layer.tar": data for i, data in enumerate(layers)}
    files["c.json"] = config.encode()
    files["manifest.json"] = json.dumps(
        [{"Config": "c.json", "RepoTags": ["x:1"], "Layers": list(files)[:-1]}]
    ).encode()
    return write_tar(files, tmp_path / "stack.tar")


STACKS = {
    "the same path twice in one layer": [layer(f("d", 100), f("d", 7, b"y"))],
    "a hard link to a file a later layer whites out": [
        layer(f("f", 50), member("h", tarfile.LNKTYPE, "f")),
        layer(f(".wh.f", 0)),
    ],
    "an opaque whiteout at the root": [
        layer(f("a", 10), member("b/", tarfile.DIRTYPE), f("b/c", 20)),
        layer(f(".wh..wh..opq", 0), f("n", 3)),
    ],
    "a whiteout of a path that never existed": [layer(f("a", 10)), layer(f("nope/.wh.x", 0), f(".wh.zz", 0))],
    "a directory replaced by a file and back": [
        layer(member("x/", tarfile.DIRTYPE), f("x/y", 10)),
        layer(f("x", 5)),
        layer(member("x/", tarfile.DIRTYPE), f("x/z", 3)),
    ],
    "devices, a fifo and a symlink among files": [
        layer(
            member("dev/null", tarfile.CHRTYPE),
            member("dev/sda", tarfile.BLKTYPE),
            member("run/fifo", tarfile.FIFOTYPE),
            member("bin/sh", tarfile.SYMTYPE, "busybox"),
            f("bin/busybox", 900),
        )
    ],
    "names with ./, /, and a/../": [
        layer(f("./etc/a", 3), f("/etc/b", 4), f("usr/../etc/c", 5)),
        layer(f("etc/.wh.b", 0)),
    ],
    "a file deleted and shipped again in one layer": [
        layer(f("w", 11)),
        layer(f(".wh.w", 0), f("w", 4, b"z")),
    ],
    "an empty layer between two": [layer(f("a", 10)), b"", layer(f("a", 2, b"q"))],
}


@pytest.mark.parametrize("name", list(STACKS))
def test_layer_stacks_match_an_independent_count(tmp_path: Path, name: str) -> None:
    path = classic(tmp_path, STACKS[name])
    report, expected = audit_path(path), figures(path)
    assert [layer.size_bytes for layer in report.layers] == expected.layer_file_bytes
    assert [layer.wasted_bytes for layer in report.layers] == expected.wasted_bytes
    assert report.final_bytes == expected.final_bytes

"""A blob in a file is hashed on a second thread while the walk reads (and seeks) on its own."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

import pytest

from imgaudit.errors import LayerError
from imgaudit.sources import background_digest
from imgaudit.sources.background_digest import BackgroundDigestCheck, DigestCheckQueue
from imgaudit.sources.store import TarArchiveStore
from tests.support.imagespec import write_tar

BLOB = bytes(range(256)) * 40_000  # 10 MB: several of the thread's chunks


def check_of(path: Path, offset: int, size: int, digest: str) -> BackgroundDigestCheck:
    return BackgroundDigestCheck(
        io.BytesIO(), os.open(path, os.O_RDONLY), offset, size, digest, str(path), "blob x"
    )


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_the_bytes_of_the_range_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "archive"
    path.write_bytes(b"head" + BLOB + b"tail")
    with check_of(path, 4, len(BLOB), sha256(BLOB)) as check:
        check.finish()
    with (
        check_of(path, 4, len(BLOB), sha256(BLOB[:-1] + b"!")) as check,
        pytest.raises(LayerError, match="blob x does not match its digest"),
    ):
        check.finish()


def test_a_file_shorter_than_the_blob_does_not_match(tmp_path: Path) -> None:
    path = tmp_path / "archive"
    path.write_bytes(BLOB[:1000])
    with (
        check_of(path, 0, len(BLOB), sha256(BLOB[:1000])) as check,
        pytest.raises(LayerError, match="does not match its digest"),
    ):
        check.finish()


def test_closing_without_finishing_stops_the_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A walk that fails early: the hash is not waited for, and nothing is left running.
    monkeypatch.setattr(background_digest, "CHUNK", 4096)
    path = tmp_path / "archive"
    path.write_bytes(BLOB)
    check = check_of(path, 0, len(BLOB), sha256(BLOB))
    check.close()
    assert not any(thread.name == "imgaudit-digest" for thread in threading.enumerate())


def test_an_archive_layer_is_handed_out_seekable(tmp_path: Path) -> None:
    """The walk may seek over file contents: the digest check no longer reads through it."""
    archive = write_tar({"blobs/sha256/" + sha256(BLOB)[7:]: BLOB}, tmp_path / "image.tar")
    store = TarArchiveStore(archive)
    with store.open_checked("blobs/sha256/" + sha256(BLOB)[7:]) as blob:
        assert isinstance(blob, BackgroundDigestCheck)
        assert blob.stream.seekable()
        blob.stream.seek(len(BLOB) - 4)
        assert blob.stream.read() == BLOB[-4:]
        blob.finish()
    store.close()


def test_deferred_checks_are_settled_in_the_order_opened(tmp_path: Path) -> None:
    """The walk does not wait for its blob's hash: `settle()` verifies every deferred one, and
    the first blob that lies is the error; a check dropped by a failed walk is not."""
    path = tmp_path / "archive"
    path.write_bytes(BLOB * 2)
    queue = DigestCheckQueue()
    checks = [
        BackgroundDigestCheck(
            io.BytesIO(), os.open(path, os.O_RDONLY), 0, len(BLOB), digest, str(path), what, queue
        )
        for digest, what in (
            (sha256(BLOB), "intact"),
            (sha256(b"x"), "first liar"),
            (sha256(b"y"), "second liar"),
        )
    ]
    dropped = BackgroundDigestCheck(
        io.BytesIO(), os.open(path, os.O_RDONLY), 0, len(BLOB), sha256(b"z"), str(path), "dropped", queue
    )
    for check in checks:
        check.defer()
        check.close()
    dropped.close()  # neither finished nor deferred: a walk that failed
    with pytest.raises(LayerError, match="first liar does not match its digest"):
        queue.settle()
    with pytest.raises(LayerError, match="second liar"):
        queue.settle()
    queue.settle()  # all verified now
    queue.close()
    assert not any(thread.name == "imgaudit-digest" for thread in threading.enumerate())


def test_closing_the_queue_drops_what_is_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background_digest, "CHUNK", 4096)
    path = tmp_path / "archive"
    path.write_bytes(BLOB)
    queue = DigestCheckQueue()
    for _ in range(3):
        BackgroundDigestCheck(
            io.BytesIO(), os.open(path, os.O_RDONLY), 0, len(BLOB), sha256(BLOB), str(path), "x", queue
        ).defer()
    queue.close()
    assert not any(thread.name == "imgaudit-digest" for thread in threading.enumerate())
    assert len(os.listdir("/proc/self/fd")) < 64  # every blob's descriptor was closed


def test_a_read_error_while_hashing_is_a_layer_error(tmp_path: Path) -> None:
    # The check is settled after the walk, outside the walk's error handling: an OSError from
    # the file must still be the one-line layer error, not a traceback.
    path = tmp_path / "archive"
    path.write_bytes(BLOB)
    directory = os.open(tmp_path, os.O_RDONLY)  # preadv on a directory: EISDIR
    with (
        BackgroundDigestCheck(io.BytesIO(), directory, 0, 10, sha256(BLOB), str(path), "blob x") as check,
        pytest.raises(LayerError, match=r"blob x cannot be read \(.*Is a directory"),
    ):
        check.finish()

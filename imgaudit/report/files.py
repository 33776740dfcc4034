"""Writing a report file: whole or not at all. Only `os`, so that a replayed audit
(`imgaudit.replay`) writes its files exactly as a full run does, before the renderers load."""

from __future__ import annotations

import os
import stat

from imgaudit.errors import ImgauditError


def write_report_file(path: str | os.PathLike[str], text: str, append: bool = False) -> None:
    """Write `text` (UTF-8; what it cannot encode backslash-escaped). A regular file is
    written beside its place and renamed over it, so a reader never sees half a report; a
    device, a pipe or an append goes straight to the path. Every OSError (a full disk, a
    missing directory) is one line naming the file."""
    place = os.fspath(path)
    data = text.encode("utf-8", "backslashreplace")
    try:
        if not append and _replaceable(place):
            write_bytes_atomically(place, data)
        else:
            flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
            descriptor = os.open(place, flags, 0o666)
            try:
                _write_all(descriptor, data)
            finally:
                os.close(descriptor)
    except OSError as exc:
        raise ImgauditError(f"cannot write the report: {exc.strerror or exc}", where=place) from None


def write_bytes_atomically(place: str, data: bytes) -> None:
    """`data` at `place` whole or not at all: written beside it, synced, renamed over it."""
    directory, name = os.path.split(place)
    temporary = os.path.join(directory, f".{name}.{os.urandom(6).hex()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            _write_all(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, place)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _replaceable(place: str) -> bool:
    """A path that is a regular file or nothing yet (never `/dev/stdout` or a FIFO)."""
    try:
        return stat.S_ISREG(os.stat(place).st_mode)
    except FileNotFoundError:
        return os.path.isdir(os.path.dirname(place) or ".")
    except OSError:
        return False

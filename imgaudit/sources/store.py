"""Named blobs inside an image archive (a tar) or an image layout (a directory).

Both stores answer the same three questions, so the manifest readers never care which
one they read. Neither ever extracts anything to disk, and neither resolves a name to a
place outside the archive or the layout directory.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import os
import posixpath
import re
import stat
import tarfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO, cast

from imgaudit.errors import LayerError, SourceError
from imgaudit.inputs import limit
from imgaudit.layers.paths import normalize
from imgaudit.layers.tarstream import iter_members, old_gnu_sparse_map
from imgaudit.sources.background_digest import BackgroundDigestCheck, DigestCheckQueue
from imgaudit.sources.compression import MAGIC_BYTES, compression_of, decompressed

JSON_CAP = 16 * 1024 * 1024  # manifests and configs are KBs; this bounds a hostile one
_DIGEST_FORMAT = re.compile(r"sha256:[0-9a-f]{64}")
MAX_LINK_HOPS = 8  # a layer stored as a symlink to a symlink ...; more is a loop


def blob_digest(name: str) -> str | None:
    """`blobs/sha256/<hex>` names its own content: the digest to check it against."""
    parts = (normalize(name) or "").split("/")
    if len(parts) == 3 and parts[0] == "blobs" and parts[1] in ("sha256", "sha512"):
        return f"{parts[1]}:{parts[2]}"
    return None


class DigestCheckingReader(io.RawIOBase):
    """A blob hashed as it is read; at its end the bytes must match the digest of its name,
    as registry blobs are checked: a tampered layout or archive is an error, not a report."""

    def __init__(self, stream: BinaryIO, digest: str, where: str, what: str | None = None) -> None:
        algorithm, _, self._expected = digest.partition(":")
        self._stream, self._digest, self._where = stream, digest, where
        self._what = what or f"blob {digest}"
        self._hash = hashlib.new(algorithm)
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        if not data:
            self._verify()
            return 0
        self._hash.update(data)
        buffer[: len(data)] = data
        return len(data)

    def _verify(self) -> None:
        if not self._done:
            self._done = True
            if self._hash.hexdigest() != self._expected:
                raise LayerError(f"{self._what} does not match its digest", where=self._where)

    def finish(self) -> None:
        """Hash what the reader left unread and check the digest: a blob is verified whole."""
        while self.read(1 << 20):
            pass

    def close(self) -> None:
        self._stream.close()
        super().close()


class BlobStore(ABC):
    location: str
    # The blobs hashed beside the walk (one thread for the store's blobs), made on first use.
    _checks: DigestCheckQueue | None = None

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def size(self, name: str) -> int: ...

    @abstractmethod
    def open(self, name: str) -> BinaryIO: ...

    def read(self, name: str, cap: int | None = None) -> bytes:
        """A small blob whole; one named by its digest (`blobs/sha256/...`) is checked against it."""
        cap = cap if cap is not None else limit("IMGAUDIT_MAX_JSON_BYTES", JSON_CAP)
        if self.size(name) > cap:
            raise SourceError(f"{name} is larger than {cap} bytes", where=self.location)
        with self.open(name) as stream:
            data = stream.read()
        digest = blob_digest(name)
        if digest is not None:
            algorithm, _, expected = digest.partition(":")
            if hashlib.new(algorithm, data).hexdigest() != expected:
                raise SourceError(f"blob {digest} does not match its digest", where=self.location)
        return data

    def open_checked(
        self, name: str, diff_id: str | None = None
    ) -> BackgroundDigestCheck | DigestCheckingReader | BinaryIO:
        """A layer blob; checked against its digest at EOF when its name is one. A blob named
        otherwise (classic `docker save`: `<id>/layer.tar`) is checked against `diff_id`, the
        digest of the uncompressed layer by definition: such a blob is handed out inflated."""
        digest = blob_digest(name)
        stream = self.open(name)
        if digest:
            if diff_id and digest.startswith("sha256:") and digest != diff_id and _uncompressed(stream):
                # An uncompressed layer's digest is its diff_id: a config that says otherwise
                # names other layers (or these in another order), as `docker load` would refuse.
                stream.close()
                raise LayerError(
                    f"an uncompressed layer (its digest is its diff_id) but the config names {diff_id[:19]}",
                    where=self.location,
                )
            return self._checked(name, stream, digest, f"blob {digest}")
        if diff_id and _DIGEST_FORMAT.fullmatch(diff_id):
            what = f"{name} (diff_id {diff_id[:19]})"
            if _uncompressed(stream):
                return self._checked(name, stream, diff_id, what)
            # A compressed one (crane's tarballs name them `<hex>.tar.gz`) is checked as it is
            # inflated: the walk reads the inflated bytes whole anyway.
            return DigestCheckingReader(decompressed(stream), diff_id, self.location, what)
        return stream

    def _checked(
        self, name: str, stream: BinaryIO, digest: str, what: str
    ) -> BackgroundDigestCheck | DigestCheckingReader:
        """The blob's bytes hashed beside the walk when they lie in a file, else as it reads."""
        try:
            found = self.file_range(name)
        except OSError:
            found = None
        if found is None or digest.partition(":")[0] not in hashlib.algorithms_available:
            return DigestCheckingReader(stream, digest, self.location, what)
        fd, offset, size = found
        if self._checks is None:
            self._checks = DigestCheckQueue()
        return BackgroundDigestCheck(stream, fd, offset, size, digest, self.location, what, self._checks)

    def file_range(self, name: str) -> tuple[int, int, int] | None:
        """A new descriptor of the regular file holding blob `name`, with the blob's offset and
        size in it; None when the blob is not simply a file's bytes."""
        return None

    def settle(self) -> None:
        """Verify the blobs whose checks were deferred (`BackgroundDigestCheck.defer`): the
        first whose bytes do not match its digest raises LayerError."""
        if self._checks is not None:
            self._checks.settle()

    def close(self) -> None:
        if self._checks is not None:
            self._checks.close()
            self._checks = None


def _uncompressed(stream: BinaryIO) -> bool:
    """Whether a blob holds a bare tar (a compressed one's diff_id is of its inflated bytes)."""
    head = stream.peek(MAGIC_BYTES)[:MAGIC_BYTES] if isinstance(stream, io.BufferedReader) else b""
    return bool(head) and compression_of(head) == "none"


class _Slice(io.RawIOBase):
    """A read-only, seekable window onto a member of an uncompressed tar on disk."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self._offset = offset
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        read = os.preadv(self._fd, [memoryview(buffer)[:want]], self._offset + self._pos)
        self._pos += read
        return read

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


class _SparseSlice(_Slice):
    """A member `tar --sparse` stored without its holes (old GNU format), read as the file:
    its runs of data where they lie, zeros between them, as Go's reader gives it."""

    def __init__(self, path: Path, offset: int, size: int, runs: list[tuple[int, int]]) -> None:
        super().__init__(path, offset, size)
        self._starts = [start for start, _ in runs]
        self._runs: list[tuple[int, int, int]] = []  # start in the file, length, where stored
        stored = offset
        for start, length in runs:
            self._runs.append((start, length, stored))
            stored += length

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        index = bisect.bisect_right(self._starts, self._pos) - 1
        if index >= 0:
            start, length, stored = self._runs[index]
            if self._pos < start + length:  # inside a run of data
                count = min(want, start + length - self._pos)
                read = os.preadv(self._fd, [memoryview(buffer)[:count]], stored + self._pos - start)
                self._pos += read
                return read
        following = self._starts[index + 1] if index + 1 < len(self._starts) else self._size
        count = min(want, following - self._pos)  # a hole
        memoryview(buffer)[:count] = bytes(count)
        self._pos += count
        return count


class TarArchiveStore(BlobStore):
    """The members of an uncompressed tar archive (`docker save`, `oci-archive`), indexed once."""

    def __init__(self, path: Path) -> None:
        self.location = str(path)
        self._path = path
        self._members: dict[str, tuple[int, int]] = {}
        # Members stored without their holes (`tar --sparse`): read through their map (old GNU
        # format: the header's offset) or refused (GNU's pax formats: -1).
        self._sparse: dict[str, int] = {}
        # Older `docker save` stores a layer shared by two images once and makes the other
        # `<id>/layer.tar` a symlink to `../<other id>/layer.tar`: name -> the name it means.
        self._links: dict[str, str] = {}
        try:
            with path.open("rb") as handle:
                head = handle.read(4)
                if compression_of(head) != "none":
                    raise SourceError(
                        "the archive itself is compressed; decompress it first "
                        "(for example `gunzip -k` or `zstd -d`)",
                        where=self.location,
                    )
                handle.seek(0)
                for member, _ in iter_members(handle):
                    name = normalize(member.name)
                    if name and member.is_regular:
                        self._members[name] = (member.data_offset, member.size)
                        if member.sparse is not None:
                            self._sparse[name] = member.sparse
                    elif name and member.type == tarfile.SYMTYPE:
                        # `../<id>/layer.tar` inside the archive; one that climbs out is None
                        joined = posixpath.normpath(posixpath.join(posixpath.dirname(name), member.linkname))
                        target = normalize(joined)
                        if target:
                            self._links[name] = target
                    elif name and member.type == tarfile.LNKTYPE and (target := normalize(member.linkname)):
                        self._links[name] = target
        except LayerError as exc:
            raise SourceError(
                f"not a readable image archive: {exc.message.replace('layer', 'archive')}",
                where=self.location,
            ) from exc
        except OSError as exc:
            raise SourceError(f"cannot read the archive: {exc.strerror}", where=self.location) from exc

    def _key(self, name: str) -> str | None:
        """The member `name` means, following symlinks and hard links inside the archive."""
        key = normalize(name)
        for _ in range(MAX_LINK_HOPS):
            if key is None or key not in self._links:
                break
            key = self._links[key]
        return key if key in self._members else None

    def _member(self, name: str) -> tuple[int, int]:
        key = self._key(name)
        if key is None:
            raise SourceError(f"the archive has no {name!r}", where=self.location)
        if self._sparse.get(key) == -1:
            raise SourceError(
                f"{name} is stored as a sparse file in a pax format (tar --sparse --format=posix); "
                "re-create the archive without --sparse",
                where=self.location,
            )
        return self._members[key]

    def exists(self, name: str) -> bool:
        return self._key(name) is not None

    def size(self, name: str) -> int:
        return self._member(name)[1]

    def open(self, name: str) -> BinaryIO:
        offset, size = self._member(name)
        header = self._sparse.get(self._key(name) or "")
        if header is not None:
            return cast(BinaryIO, io.BufferedReader(self._sparse_slice(offset, size, header)))
        return cast(BinaryIO, io.BufferedReader(_Slice(self._path, offset, size)))

    def _sparse_slice(self, offset: int, size: int, header: int) -> _SparseSlice:
        with self._path.open("rb") as handle:

            def block(at: int) -> bytes:
                handle.seek(at)
                return handle.read(512).ljust(512, b"\0")

            try:
                runs = old_gnu_sparse_map(block, header)
            except LayerError as exc:
                raise SourceError(
                    f"not a readable image archive: {exc.message}", where=self.location
                ) from exc
        return _SparseSlice(self._path, offset, size, runs)

    def file_range(self, name: str) -> tuple[int, int, int] | None:
        offset, size = self._member(name)
        if self._key(name) in self._sparse:
            return None  # not the file's bytes in place: hashed as it is read
        return os.open(self._path, os.O_RDONLY), offset, size


class DirectoryStore(BlobStore):
    """Files of an OCI image-layout directory, confined to that directory."""

    def __init__(self, root: Path) -> None:
        self.location = str(root)
        self._root = root.resolve()

    def _path(self, name: str) -> Path:
        key = normalize(name)
        if not key:
            raise SourceError(f"refusing a blob name outside the layout: {name!r}", where=self.location)
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root):
            raise SourceError(f"refusing a blob that leads outside the layout: {name!r}", where=self.location)
        return path

    def exists(self, name: str) -> bool:
        try:
            return self._path(name).is_file()
        except SourceError:
            return False

    def size(self, name: str) -> int:
        try:
            return self._path(name).stat().st_size
        except FileNotFoundError as exc:
            raise SourceError(f"the layout has no {name!r}", where=self.location) from exc

    def file_range(self, name: str) -> tuple[int, int, int] | None:
        fd = os.open(self._path(name), os.O_RDONLY)
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            os.close(fd)
            return None
        return fd, 0, status.st_size

    def open(self, name: str) -> BinaryIO:
        try:
            return self._path(name).open("rb")
        except FileNotFoundError as exc:
            raise SourceError(f"the layout has no {name!r}", where=self.location) from exc
        except OSError as exc:
            raise SourceError(f"cannot read {name!r}: {exc.strerror}", where=self.location) from exc


class FlatDirectoryStore(DirectoryStore):
    """skopeo's `dir:` format: `manifest.json` (the image manifest), a `version` file, and
    each blob in a file named by its bare hex digest. Blobs are asked for by their layout
    name (`blobs/sha256/<hex>`), so they are checked against their digest all the same."""

    VERSION_LINE = "Directory Transport Version:"

    @classmethod
    def recognises(cls, root: Path) -> bool:
        version = root / "version"
        try:
            with version.open("rb") as handle:
                head = handle.read(64)
        except OSError:
            return False
        return head.startswith(cls.VERSION_LINE.encode()) and (root / "manifest.json").is_file()

    def _path(self, name: str) -> Path:
        digest = blob_digest(name)
        if digest is not None and digest.startswith("sha256:"):
            name = digest.removeprefix("sha256:")
        return super()._path(name)

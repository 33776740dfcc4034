"""The per-layer analysis cache: a layer's facts, keyed by its `diff_id`, reused across runs.

A `LayerAnalysis` is a pure function of the layer's uncompressed bytes, and a diff_id names
those bytes, so an analysis read once serves every later audit of any image that ships the
same layer (a shared base, an unchanged dependency layer). Entries live in the user cache
directory (`platformdirs`; `IMGAUDIT_CACHE_DIR` overrides it, tests point it at a temporary
directory) and obey four rules:

- versioned: the directory and every entry carry a hash of the analysis code (walk, tar
  reader, kept-file rules, path cleaning) and of this format, so an analysis made by other
  code is never read;
- verified: an entry holds a blake2b digest of its payload; a corrupt, truncated or
  foreign entry reads as a miss (and the next write replaces it);
- atomic: written to a temporary file in the same directory, then renamed over the entry,
  so two concurrent runs each leave a whole entry and the last rename wins;
- bounded: the least recently used entries (by mtime, touched on every hit) go until the
  cache is under its size bound. Finding them means a `stat` of every entry, so it is done
  only when the bound may have been crossed: every write appends its size to a ledger
  (`LEDGER_NAME`, one 8-byte record per write, `O_APPEND` so that concurrent runs never
  lose each other's records), and the directories are scanned when the ledger's sum
  passes the bound; the scan then restarts the ledger at the true total. A missing or
  damaged ledger (a new cache, one written by older code) reads as unknown: a scan.

The payload is `marshal` data (columns: paths, kind codes, sizes, link targets; kept
contents; warnings), compressed with zlib level 1: marshal loads 10^5 strings in
milliseconds, never runs code, and only ever reads bytes whose digest matched.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import struct
import sys
import tempfile
import zlib
from itertools import compress, repeat
from operator import is_not, itemgetter
from pathlib import Path
from typing import Any

from imgaudit.cachedir import cache_root
from imgaudit.layers.collector import collector_paused
from imgaudit.model import EntryKind, LayerAnalysis, LayerEntry

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB: a few hundred layers of a few thousand files each
_FORMAT = b"imgaudit-layer-cache 1"
_MAGIC = b"IMGAUDIT-LAYER\n"
_DIGEST_SIZE = 32
LEDGER_NAME = "ledger"  # beside the versioned directories: it counts the writes of every version
_LEDGER_RECORD = struct.Struct("<Q")  # bytes one write added
MAX_LEDGER_BYTES = 1 << 20  # 131,072 writes between two scans
_KIND_CODES = {kind: index for index, kind in enumerate(EntryKind)}
_KINDS = list(EntryKind)
# The modules whose code decides what an analysis holds: any change to them is a new version.
_ANALYSIS_MODULES = ("walk.py", "tarstream.py", "wanted.py", "paths.py", "symlinks.py", "cache.py")


def _code_version() -> str:
    digest = hashlib.blake2b(_FORMAT, digest_size=8)
    digest.update(sys.version.encode())  # marshal's format follows the interpreter
    here = Path(__file__).parent
    for name in _ANALYSIS_MODULES:
        with contextlib.suppress(OSError):
            digest.update((here / name).read_bytes())
    return digest.hexdigest()


@collector_paused()
def _encode(analysis: LayerAnalysis) -> bytes:
    # Columns taken by map and itemgetter, as _decode builds rows: no Python code per entry.
    entries = analysis.entries
    links = list(map(itemgetter(3), entries))
    linked = list(compress(range(len(links)), map(is_not, links, repeat(None))))
    columns = (
        list(map(itemgetter(0), entries)),
        bytes(map(_KIND_CODES.__getitem__, map(itemgetter(1), entries))),
        list(map(itemgetter(2), entries)),
        dict(zip(linked, map(links.__getitem__, linked), strict=True)),
        dict(analysis.contents),
        list(analysis.warnings),
    )
    return zlib.compress(marshal.dumps(columns), 1)


@collector_paused()
def _decode(payload: bytes) -> LayerAnalysis:
    paths, kinds, sizes, links, contents, warnings = marshal.loads(zlib.decompress(payload))
    # The rows are zipped from the columns and made named tuples by tuple.__new__ (without
    # the Python-level __new__), all inside map: no Python code runs per entry (10^5 of them).
    rows = zip(paths, map(_KINDS.__getitem__, kinds), sizes, map(links.get, range(len(paths))), strict=True)
    entries = tuple(map(tuple.__new__, repeat(LayerEntry), rows))
    return LayerAnalysis(entries, contents, tuple(warnings))


def _key(diff_id: str) -> str | None:
    algorithm, _, hexdigest = diff_id.partition(":")
    if algorithm != "sha256" or len(hexdigest) != 64 or not all(c in "0123456789abcdef" for c in hexdigest):
        return None  # only a well-formed digest names a file here
    return hexdigest


class LayerCache:
    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root
        self.version = _code_version()
        self.directory = root / f"layers-{self.version}"
        self.max_bytes = max_bytes

    def _path(self, diff_id: str | None) -> Path | None:
        key = _key(diff_id) if diff_id else None
        return self.directory / f"{key}.layer" if key else None

    def _header(self, diff_id: str) -> bytes:
        return _MAGIC + self.version.encode() + b"\n" + diff_id.encode() + b"\n"

    def has(self, diff_id: str | None) -> bool:
        """Whether an entry exists (cheap; `get` still verifies it)."""
        path = self._path(diff_id)
        return path is not None and path.is_file()

    def get(self, diff_id: str | None) -> LayerAnalysis | None:
        path = self._path(diff_id)
        payload = self._read(path, diff_id) if path is not None and diff_id else None
        if payload is None:
            return None
        try:
            return _decode(payload)
        except (ValueError, EOFError, TypeError, KeyError, IndexError, AttributeError, zlib.error):
            return None  # written by a buggy run: a miss, and the next write replaces it

    def put(self, diff_id: str | None, analysis: LayerAnalysis) -> None:
        """Store an analysis; a cache that cannot be written is silently skipped."""
        path = self._path(diff_id)
        if path is not None and diff_id:
            self._write(path, diff_id, _encode(analysis))

    def get_blob(self, kind: str, digest: str) -> bytes | None:
        """The verified bytes another stage stored under a digest (see `put_blob`)."""
        key = _key(digest)
        return self._read(self.directory / f"{kind}-{key}.record", f"{kind} {digest}") if key else None

    def put_blob(self, kind: str, digest: str, payload: bytes) -> None:
        """Store bytes under a digest, with an entry's header, checksum, atomic write and bound."""
        key = _key(digest)
        if key:
            self._write(self.directory / f"{kind}-{key}.record", f"{kind} {digest}", payload)

    def get_record(self, kind: str, digest: str) -> object | None:
        """A small marshal-able value another stage stored under a digest (see `put_record`)."""
        payload = self.get_blob(kind, digest)
        if payload is None:
            return None
        try:
            value: object = marshal.loads(zlib.decompress(payload))
        except (ValueError, EOFError, TypeError, zlib.error):
            return None
        return value

    def put_record(self, kind: str, digest: str, value: dict[str, Any]) -> None:
        """Store what an engine save told about an image (its config, manifest and layer
        names), so that a later run needs no save at all. Readers re-check what they can."""
        self.put_blob(kind, digest, zlib.compress(marshal.dumps(value), 1))

    def _read(self, path: Path, name: str) -> bytes | None:
        try:
            data = path.read_bytes()
        except OSError:
            return None
        header = self._header(name)
        body = data[len(header) :]
        if not data.startswith(header) or len(body) < _DIGEST_SIZE:
            return None
        digest, payload = body[:_DIGEST_SIZE], body[_DIGEST_SIZE:]
        if hashlib.blake2b(payload, digest_size=_DIGEST_SIZE).digest() != digest:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # least recently *used*: a hit counts
        return payload

    def _write(self, path: Path, name: str, payload: bytes) -> None:
        data = self._header(name) + hashlib.blake2b(payload, digest_size=_DIGEST_SIZE).digest() + payload
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _replace_atomically(path, data)
            written = self._record_write(len(data))
            if written is None or written > self.max_bytes:
                self._evict()
        except OSError:
            return

    def _record_write(self, size: int) -> int | None:
        """Append a write to the ledger; the bytes it now says the cache holds, or None when
        it cannot tell (no ledger yet, or a damaged or unreadable one): then the caller scans."""
        try:
            # No O_CREAT: the scan creates the ledger, as it alone knows the starting total.
            handle = os.open(self.root / LEDGER_NAME, os.O_RDWR | os.O_APPEND)
        except OSError:
            return None
        try:
            os.write(handle, _LEDGER_RECORD.pack(size))
            length = os.fstat(handle).st_size
            # Each scan restarts the ledger, so it never holds more than a bound's worth of
            # writes: a longer one was not written by this code.
            records = os.pread(handle, length, 0) if length <= MAX_LEDGER_BYTES else b"?"
        except OSError:
            return None
        finally:
            os.close(handle)
        if len(records) % _LEDGER_RECORD.size:
            return None
        return sum(int(value) for (value,) in _LEDGER_RECORD.iter_unpack(records))

    def _evict(self) -> None:
        """Drop the least recently used entries (any version) until under the bound, and
        restart the ledger at what remains."""
        entries: list[tuple[bool, float, int, str]] = []
        for directory in self.root.glob("layers-*"):
            current = directory == self.directory
            with contextlib.suppress(OSError), os.scandir(directory) as listing:
                for item in listing:
                    with contextlib.suppress(OSError):
                        stat = item.stat(follow_symlinks=False)
                        entries.append((current, stat.st_mtime, stat.st_size, item.path))
        total = sum(size for _, _, size, _ in entries)
        if total > self.max_bytes:
            # Other versions' entries first (no run reads them), then the current ones by age.
            for _, _, size, path in sorted(entries, key=lambda e: (e[0], e[1])):
                if total <= self.max_bytes:
                    break
                with contextlib.suppress(OSError):
                    Path(path).unlink()
                    total -= size
        # A write another run appends to the old ledger meanwhile is not counted: the next
        # scan finds its bytes.
        _replace_atomically(self.root / LEDGER_NAME, _LEDGER_RECORD.pack(total))


def _replace_atomically(path: Path, data: bytes) -> None:
    """Write a temporary file beside `path`, then rename it over `path`: a reader sees the
    old file or the new one whole, and of two concurrent writers the last rename wins."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


_disabled = False


def disable() -> None:
    """`--no-cache`: this process neither reads nor writes the cache."""
    global _disabled
    _disabled = True


def active_cache() -> LayerCache | None:
    """The cache this run uses, or None when disabled (`--no-cache`, IMGAUDIT_NO_CACHE=1)."""
    root = None if _disabled else cache_root()
    return LayerCache(Path(root)) if root is not None else None

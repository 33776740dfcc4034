"""A strict, streaming reader of tar headers.

Why not `tarfile` iteration: it keeps every TarInfo in memory, and it silently treats a
garbage header or a stream cut at a member boundary as a normal end of archive. A layer
audit must tell a truncated layer from a complete one: a stream cut inside a header or a
member's data is an error; one that ends on a member boundary without the end-of-archive
blocks is complete, as Go's archive/tar (the engines') reads it, and its digest tells the
rest. Member contents are skipped (seeking when the stream allows it).

Why it looks the way it does (measured on 250k entries): the stream is read in windows
(`_WINDOW`) and headers are sliced out of them, instead of one `read(512)` and one seek per
member; the header checksum of an ASCII header comes from `zlib.adler32` (its low half is
the byte sum modulo 65521, exact while every byte is below 128) rather than `sum()` over
512 ints; a header's fields are decoded only when the member's type needs them.
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from imgaudit.errors import LayerError
from imgaudit.inputs import limit
from imgaudit.layers.paths import normalize_entry

BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
_WINDOW = 64 * 1024
_SKIP_CHUNK = 1 << 20
# A pax header or GNU long name holds a path or two: PATH_MAX is 4 KiB. A hostile one
# declaring gigabytes must fail before anything is allocated for it.
MAX_HEADER_EXTENSION = 1 << 20
# The names (and link targets) an image's entries hold, all layers together: a real image's
# million files take about 100 MB. Names from pax or GNU headers compress about 800:1 (1,000
# names of 1 MiB: a 1 MB gzip layer, 2 GB of memory), so they are counted as they are read
# here; `Merger` counts every name of every layer (README: Limits).
MAX_NAME_BYTES = 256 << 20
NAME_BUDGET_VARIABLE = "IMGAUDIT_MAX_NAME_BYTES"


# The longest name or link target an engine extracts: PATH_MAX (4,096 bytes with its NUL);
# open(2), mkdir(2) and symlink(2) answer ENAMETOOLONG past it. A name of up to 1,023
# characters is at most 4,092 bytes in UTF-8, so only longer ones are encoded to be measured.
PATH_MAX_BYTES = 4095
_SURELY_SHORT = 1023


def _overlong(text: str) -> bool:
    return len(text) > _SURELY_SHORT and len(text.encode("utf-8", "surrogateescape")) > PATH_MAX_BYTES


def name_budget() -> int:
    return limit(NAME_BUDGET_VARIABLE, MAX_NAME_BYTES)


def names_refused(cap: int, where: str = "its entries have") -> LayerError:
    return LayerError(f"{where} names of more than {cap} bytes (raise it with {NAME_BUDGET_VARIABLE})")


_REGTYPE = tarfile.REGTYPE[0]
_AREGTYPE = 0
_DIRTYPE = tarfile.DIRTYPE[0]
_LNKTYPE = tarfile.LNKTYPE[0]
_SYMTYPE = tarfile.SYMTYPE[0]
_PAX_TYPES = frozenset((tarfile.XHDTYPE[0], tarfile.SOLARIS_XHDTYPE[0]))
_GLOBAL_PAX = tarfile.XGLTYPE[0]
_LONGNAME = tarfile.GNUTYPE_LONGNAME[0]
_LONGLINK = tarfile.GNUTYPE_LONGLINK[0]
_GNU_SPARSE = tarfile.GNUTYPE_SPARSE[0]
# A sparse file's size is not backed by data in the stream: cap it as Go's reader (int64) does.
_MAX_SPARSE_SIZE = (1 << 63) - 1
# Only regular files (and unknown types, as tarfile does) carry data after their header.
_DATA_TYPES = frozenset(t[0] for t in tarfile.REGULAR_TYPES)
_KNOWN_TYPES = frozenset(t[0] for t in tarfile.SUPPORTED_TYPES)
_HAS_DATA = frozenset(t for t in range(256) if t in _DATA_TYPES or t not in _KNOWN_TYPES)
# Regular files and directories: no header extension, no link, no sparse map.
_PLAIN_TYPES = frozenset((_REGTYPE, _DIRTYPE))


@dataclass(frozen=True, slots=True)
class TarMember:
    name: str
    type: bytes
    size: int
    linkname: str
    data_offset: int
    # A sparse file's data is stored without its holes: None for any other member; an old GNU
    # sparse header's offset (its map: `old_gnu_sparse_map`); -1 for GNU's pax formats.
    sparse: int | None = None

    @property
    def is_regular(self) -> bool:
        return self.type[0] in _DATA_TYPES if self.type else False


def _number(field: bytes) -> int:
    """An octal field, or GNU base-256 (high bit set) for values octal cannot hold."""
    if field[0] & 0x80:
        if field[0] & 0x40:  # the sign bit of GNU's two's complement, as Go's archive/tar reads it
            raise ValueError("negative number")
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    end = field.find(0)
    text = (field if end < 0 else field[:end]).strip()
    return int(text, 8) if text else 0


def _text(field: bytes) -> str:
    end = field.find(0)
    return (field if end < 0 else field[:end]).decode("utf-8", "surrogateescape")


def _check(block: bytes) -> None:
    """The header checksum, the slow way; ValueError when it does not match.

    (The fast way, in `TarReader.__iter__`: when every byte is below 128 the byte sum is
    below 65521, so the low half of `zlib.adler32` is exactly the sum + 1.)
    """
    stored = _number(block[148:156])
    unsigned = sum(block) - sum(block[148:156]) + 256  # the field counts as eight spaces
    if stored == unsigned:
        return
    # Some old writers summed signed chars: each byte over 127 counts 256 less.
    high = sum(1 for b in block[:148] if b > 127) + sum(1 for b in block[156:] if b > 127)
    if stored != unsigned - 256 * high:
        raise ValueError("bad checksum")


# Header number fields already found valid (mode+uid+gid, mtime, device numbers): a layer's
# headers repeat a few of them. Bounded, as mtimes may all differ.
_VALID_NUMBERS: set[bytes] = set()
_MAX_VALID_NUMBERS = 1 << 14


def _number_ok(field: bytes) -> bool:
    """Whether Go's archive/tar reads this field (parseNumeric): base-256 when its first byte
    has the high bit, else octal digits once spaces and NULs are trimmed from both ends and the
    rest is cut at its first NUL (an empty field is 0)."""
    if field[:1] and field[0] & 0x80:
        return True
    digits = field.strip(b" \0").split(b"\0", 1)[0]
    return not digits.translate(None, b"01234567")


def _check_numbers(valid: set[bytes], *fields: bytes) -> None:
    """ValueError unless every field is a number; remembers the ones that are. A run of
    adjacent 8-byte fields comes as one (mode, uid and gid: 24 bytes; the device numbers: 16);
    the 12-byte mtime is one field."""
    for field in fields:
        if field in valid:
            continue
        parts = [field[at : at + 8] for at in range(0, len(field), 8)] if len(field) % 8 == 0 else [field]
        if not all(_number_ok(part) for part in parts):
            raise ValueError("a header number is not octal")
        if len(valid) < _MAX_VALID_NUMBERS:
            valid.add(field)


def _pax_size(text: str) -> int:
    try:
        size = int(text)
    except ValueError as exc:
        raise LayerError("corrupt pax size in layer tar") from exc
    if size < 0:
        raise LayerError("corrupt pax size in layer tar")
    return size


_NO_NUL_KEYS = frozenset((b"path", b"linkpath", b"uname", b"gname"))


def _parse_pax(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError as exc:
            raise LayerError("corrupt pax header in layer tar") from exc
        if length <= 0:
            raise LayerError("corrupt pax header in layer tar")
        record = data[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        if b"\0" in value and key in _NO_NUL_KEYS:  # Go's reader (validPAXRecord) refuses them
            raise LayerError(f"layer tar has a NUL in a pax {key.decode()}")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


class TarReader:
    """Headers of a tar stream, one member at a time; `content()` reads the current one's data.

    Iterating yields `(name, type, size, linkname)`: the name as stored (pax and GNU long
    names applied), the type byte as an int, the data size (0 for members that carry no
    data) and the link target. Raises LayerError for anything that is not a complete,
    well-formed tar.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._buffer = b""
        self._buffer_at = 0  # stream offset (from where reading began) of _buffer[0]
        self._read_at = 0  # stream offset the underlying stream is at
        self._base = 0
        self._length: int | None = None
        try:
            if stream.seekable():
                self._base = stream.tell()
                self._length = stream.seek(0, 2) - self._base
                stream.seek(self._base)
        except (OSError, ValueError):
            self._length = None
        self.data_offset = 0  # where the current member's data starts
        self.sparse: int | None = None  # the current member's, as TarMember.sparse
        self.name = ""  # the current member's name, for messages
        self._data_size = 0
        self._cut_in_data = False  # the stream ended inside a member's data
        self._data_end = 0  # where the current member's data ends (its padding not included)
        self.warnings: list[str] = []  # about members left out (a name no engine extracts)

    # -- the window over the stream ---------------------------------------------------
    def _read(self, size: int) -> bytes:
        chunks: list[bytes] = []
        remaining = size
        while remaining > 0:
            chunk = self._stream.read(remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._read_at += len(data)
        return data

    def _get(self, pos: int, size: int) -> bytes:
        """Bytes [pos, pos + size) of the stream (fewer at its end); `pos` never goes back."""
        offset = pos - self._buffer_at
        end = offset + size
        if end <= len(self._buffer):
            return self._buffer[offset:end]
        if offset < len(self._buffer):
            keep = self._buffer[offset:]
        else:
            keep = b""
            gap = pos - self._read_at
            if gap > 0 and not self._skip(gap):
                self._buffer, self._buffer_at = b"", self._read_at
                self._cut_in_data = True
                return b""
        data = self._read(max(size - len(keep), _WINDOW))
        self._buffer = keep + data if keep else data
        self._buffer_at = pos
        return self._buffer[:size]

    def _skip(self, size: int) -> bool:
        if self._length is not None:
            if self._read_at + size > self._length:
                return False
            self._read_at += size
            self._stream.seek(self._base + self._read_at)
            return True
        while size > 0:
            chunk = self._stream.read(min(size, _SKIP_CHUNK))
            if not chunk:
                return False
            size -= len(chunk)
            self._read_at += len(chunk)
        return True

    def _extension(self, pos: int, size: int, what: str) -> bytes:
        if size > MAX_HEADER_EXTENSION:
            raise LayerError(
                f"layer tar has a {what} of {size} bytes (more than {MAX_HEADER_EXTENSION} is refused)"
            )
        data = self._get(pos, size)
        if len(data) < size:
            raise LayerError(f"layer tar is truncated in a {what}")
        return data

    # -- members ----------------------------------------------------------------------
    def content(self, cap: int) -> bytes:
        """The first `cap` bytes of the current member's data (all of it when smaller)."""
        size = min(self._data_size, cap)
        data = self._get(self.data_offset, size)
        if len(data) < size:
            raise LayerError(f"layer tar is truncated inside {self.name}")
        return data

    def __iter__(self) -> Iterator[tuple[str, int, int, str]]:
        pos = 0
        pending: dict[str, str] = {}
        global_pax: dict[str, str] = {}
        length = self._length
        # A plain header's name is at most 256 bytes; only the longer ones of pax and GNU
        # headers are counted against the budget.
        extended_names, name_cap = 0, name_budget()
        adler32 = zlib.adler32
        valid_numbers = _VALID_NUMBERS
        while True:
            offset = pos - self._buffer_at
            if 0 <= offset <= len(self._buffer) - BLOCK:
                block = self._buffer[offset : offset + BLOCK]
            else:
                block = self._header_block(pos)
            if block == _ZERO_BLOCK:
                # Go's archive/tar (the engines') ends at two zero blocks, or one and the end of
                # the stream, and refuses one followed by anything else: what follows would be
                # read by tools that skip zero blocks and hidden from those that stop there.
                if self._get(pos + BLOCK, BLOCK).strip(b"\0"):
                    raise LayerError(
                        f"layer tar goes on after an end-of-archive block at byte {pos} (engines refuse it)"
                    )
                self._drain()
                return
            # The fast path: an ASCII header with plain octal fields (see the module's notes).
            try:
                field = block[148:156]
                try:
                    fast = block.isascii() and int(field.strip(b" \0"), 8) == (
                        (adler32(block) & 0xFFFF) - (adler32(field) & 0xFFFF) + 256
                    )
                except ValueError:
                    fast = False
                if not fast:
                    _check(block)
                try:
                    size = int(block[124:136].strip(b" \0") or b"0", 8)
                except ValueError:
                    size = _number(block[124:136])
                if size < 0:
                    raise ValueError("negative size")
                # The other numbers, as Go's reader (the engines') parses them: a header whose
                # mode, uid, gid or mtime (and a ustar or GNU header's device numbers) is not a
                # number fails there. Headers repeat them, so each distinct field is checked once.
                ids, mtime = block[100:124], block[136:148]
                if ids not in valid_numbers or mtime not in valid_numbers:
                    _check_numbers(valid_numbers, ids, mtime)
                if block[257:262] == b"ustar" and (devices := block[329:345]) not in valid_numbers:
                    _check_numbers(valid_numbers, devices)
            except (ValueError, IndexError) as exc:
                where = "not a tar" if pos == 0 else f"corrupt tar header at byte {pos}"
                raise LayerError(f"layer is {where}") from exc
            kind = block[156]
            end = block.find(0, 0, 100)
            name = (block[:end] if end >= 0 else block[:100]).decode("utf-8", "surrogateescape")
            if block[345] and block[257:265] == b"ustar\x0000":
                name = f"{_text(block[345:500])}/{name}"
            data_at = pos + BLOCK
            padded = -(-size // BLOCK) * BLOCK
            linkname = ""
            apparent = None
            too_long: str | None = None
            sparse: int | None = None
            if kind not in _PLAIN_TYPES:  # most members are: one test instead of six
                if kind in _PAX_TYPES or kind == _GLOBAL_PAX:
                    records = _parse_pax(self._extension(data_at, size, "pax header"))
                    (global_pax if kind == _GLOBAL_PAX else pending).update(records)
                    pos = data_at + padded
                    continue
                if kind in (_LONGNAME, _LONGLINK):
                    data = self._extension(data_at, size, "GNU long name")
                    value = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                    pending["path" if kind == _LONGNAME else "linkpath"] = value
                    pos = data_at + padded
                    continue
                if kind == _AREGTYPE:
                    # Pre-POSIX tars mark directories by a trailing slash only. Never apply this to
                    # a typed header: a pax-overridden name may be cut at 100 bytes after a slash.
                    kind = _DIRTYPE if name.endswith("/") else _REGTYPE
                if kind in (_LNKTYPE, _SYMTYPE):
                    linkname = _text(block[157:257])
                # A sparse file stores its data without the holes; its size is the file's, as
                # engines extract it (holes written as zeros) and as Go's and Python's tar report it.
                if kind == _GNU_SPARSE:
                    try:
                        apparent = _number(block[483:495])
                    except ValueError as exc:  # found by the fuzz harness: a stray byte in the field
                        raise LayerError(f"corrupt sparse size in the tar header at byte {pos}") from exc
                    data_at = self._skip_sparse_extensions(block, data_at)
                    sparse = pos
            if pending or global_pax:
                overrides = {**global_pax, **pending}
                pending = {}
                # GNU tar's pax sparse formats hide the real name behind `GNUSparseFile.<pid>/`
                name = overrides.get("GNU.sparse.name") or overrides.get("path", name)
                linkname = overrides.get("linkpath", linkname)
                if "size" in overrides:
                    size = _pax_size(overrides["size"])
                    padded = -(-size // BLOCK) * BLOCK
                real = overrides.get("GNU.sparse.realsize") or overrides.get("GNU.sparse.size")
                if real is not None:
                    apparent = _pax_size(real)
                    sparse = -1
                extended_names += len(name) + len(linkname)
                if extended_names > name_cap:
                    raise names_refused(name_cap, "layer tar gives its entries")
                # Only pax and GNU headers give names longer than 256 bytes.
                too_long = self._too_long(name, linkname, kind)
            if kind not in _HAS_DATA:
                size = padded = 0
                apparent = None
            elif apparent is not None and apparent > _MAX_SPARSE_SIZE:
                raise LayerError(f"layer tar gives {name} a sparse size beyond 2^63 bytes")
            self.name = name
            self.sparse = sparse if apparent is not None else None
            self.data_offset = data_at
            self._data_size = size
            self._data_end = data_at + size
            pos = data_at + padded
            if length is not None and self._data_end > length:
                raise LayerError(f"layer tar is truncated inside {name}")
            if too_long is not None:
                self.warnings.append(
                    f"ignored tar entry whose {too_long} is longer than {PATH_MAX_BYTES} bytes "
                    f"(engines cannot extract it): {name[:60]!r}..."
                )
                continue
            yield name, kind, size if apparent is None else apparent, linkname

    @staticmethod
    def _too_long(name: str, linkname: str, kind: int) -> str | None:
        """What of the entry no engine extracts: its name (as the engines clean it, joined to
        their root) or its link target (a symlink's as written, a hard link's cleaned)."""
        if _overlong(name) and _overlong(normalize_entry(name) or ""):
            return "name"
        if kind == _SYMTYPE and _overlong(linkname):
            return "link target"
        if kind == _LNKTYPE and _overlong(linkname) and _overlong(normalize_entry(linkname) or ""):
            return "link target"
        return None

    def _skip_sparse_extensions(self, header: bytes, pos: int) -> int:
        """Where an old-GNU sparse file's data starts: more than four holes' map continues in
        512-byte blocks after the header, each flagging (byte 504) whether another follows."""
        extended = header[482]
        while extended:
            block = self._header_block(pos)
            extended = block[504]
            pos += BLOCK
        return pos

    def _header_block(self, pos: int) -> bytes:
        block = self._get(pos, BLOCK)
        if len(block) == BLOCK:
            return block
        if block:
            raise LayerError("layer tar is truncated in a header")
        if pos == 0:
            # A zero-byte layer is an empty one, as Go's archive/tar (the engines') reads it;
            # a layer cut to nothing is told apart by its digest, checked wherever it is known.
            return _ZERO_BLOCK
        ended_at = self._length if self._length is not None else self._read_at
        if self._cut_in_data and ended_at < self._data_end:
            raise LayerError(f"layer tar is truncated inside {self.name}")
        # The stream ends on a member boundary (or in the padding after the last member's
        # data), without end-of-archive blocks: Go's archive/tar, every engine's reader, takes
        # that as the end, and umoci 0.4.7 writes its layers so. A layer cut there is caught
        # by its digest, which every source checks where one is known (README: Limits).
        return _ZERO_BLOCK

    def _drain(self) -> None:
        """Read to the end, so that decompressors and digest checks see every byte."""
        if self._length is not None:
            return
        while self._stream.read(_SKIP_CHUNK):
            pass


# Data runs an old GNU sparse map may list: 4 in the header, 21 per extension block.
MAX_SPARSE_RUNS = 1 << 16


def old_gnu_sparse_map(read: Callable[[int], bytes], header_at: int) -> list[tuple[int, int]]:
    """The data runs (offset in the file, length) of the old GNU sparse member whose header is
    at `header_at`, `read(offset)` giving the 512-byte block there; checked as Go's reader
    checks them: in order, apart, within the file, and adding up to the data stored."""
    header = read(header_at)
    try:
        stored, size = _number(header[124:136]), _number(header[483:495])
        runs = [
            (_number(header[at : at + 12]), _number(header[at + 12 : at + 24])) for at in range(386, 482, 24)
        ]
        extended, position = header[482], header_at
        while extended:
            position += BLOCK
            block = read(position)
            runs += [
                (_number(block[at : at + 12]), _number(block[at + 12 : at + 24])) for at in range(0, 504, 24)
            ]
            extended = block[504]
            if len(runs) > MAX_SPARSE_RUNS:
                raise LayerError(f"a sparse file lists more than {MAX_SPARSE_RUNS} runs of data")
    except (ValueError, IndexError) as exc:
        raise LayerError(f"corrupt sparse map in the tar header at byte {header_at}") from exc
    runs = [run for run in runs if run != (0, 0)]  # unused slots
    end = 0
    for offset, length in runs:
        if offset < end or offset + length > size:
            raise LayerError(f"corrupt sparse map in the tar header at byte {header_at}")
        end = offset + length
    if sum(length for _, length in runs) != stored:
        raise LayerError(f"corrupt sparse map in the tar header at byte {header_at}")
    return runs


ContentWanted = Callable[[TarMember], int | None]


def iter_members(
    stream: BinaryIO, want_content: ContentWanted | None = None
) -> Iterator[tuple[TarMember, bytes | None]]:
    """Yield each member of a tar stream with, when `want_content` gives a cap, its first bytes.

    Raises LayerError for anything that is not a complete, well-formed tar.
    """
    reader = TarReader(stream)
    for name, kind, size, linkname in reader:
        member = TarMember(name, bytes((kind,)), size, linkname, reader.data_offset, reader.sparse)
        content: bytes | None = None
        if want_content is not None and kind in _HAS_DATA:
            cap = want_content(member)
            if cap is not None:
                content = reader.content(cap)
        yield member, content

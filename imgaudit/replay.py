"""A warm audit of an archive file, replayed before the rest of imgaudit loads.

An audit's outputs are a pure function of its inputs. For the call CI makes on a file,
`imgaudit [audit] image.tar [--format F[=FILE]] [-o FILE] [limits, --ignore, --dockerfile F]`,
every input can be named from the file system's metadata before a module is imported:

- the command line, the working directory, and the environment variables that imgaudit,
  click and rich read;
- the archive and the `--dockerfile`: device, inode, size, modification and change time,
  the way git's index and make trust a file (nobody can set a change time back);
- the config files a run would look for: each candidate name in the working directory and
  its parents, present or not;
- the code: every file of the package (size, modification time), the interpreter, and the
  directories of the libraries that render (an upgrade rewrites them).

A full run of such a command stores what it wrote (each output's text, with the report's
duration as a marker) and its exit code under a hash of all that, in the cache directory
(`--no-cache` and `IMGAUDIT_NO_CACHE` keep it out). The next identical run writes the same
texts with its own duration and exits with the same code without importing the renderers,
the model or the layer readers. Whatever the key cannot name runs in full: another option,
a directory or an image name, an output to an interactive terminal, a run that printed a
warning, a baseline from a config file.

Standard library only: the point is what this module does not load.
"""

from __future__ import annotations

import marshal
import os
import sys
import time

try:  # the interpreter's own sha256: hashlib would load OpenSSL first (3 ms)
    from _sha256 import sha256  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import sha256

TYPE_CHECKING = False  # typing itself costs 5 ms; mypy reads this name as typing's
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

FORMAT_VERSION = "imgaudit-replay 1"
# The report's duration, rendered in its place when a run is stored; a replay writes its own.
DURATION_MARKER = 987654321.125
MAX_ENTRIES = 256  # the most recently used entries kept; a few KB to a few MB each
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
# The audit options whose values are plain words or input files, and the flags, that a replay
# may carry: tests/unit/test_replay.py holds them to the audit command's own definition.
WORD_OPTIONS = frozenset(
    {
        "--format",
        "--output",
        "-o",
        "--show",
        "--packages",
        "--ignore",
        "--max-size",
        "--max-category",
        "--max-wasted",
        "--min-efficiency",
        "--max-removable",
        "--fail-on",
        "--image",
        "--platform",
        "--dockerfile",
    }
)
FLAGS = frozenset({"--details", "--quiet", "-q", "--debug"})
_FILE_OPTIONS = frozenset({"--dockerfile"})  # values that name an input file
_OUTPUT_OPTIONS = frozenset({"--output", "-o"})
# Files a run looks for from the working directory up (imgaudit.config), and what ends the search.
CONFIG_NAMES = (".imgaudit.toml", "pyproject.toml", ".dive-ci")
_SEARCH_STOP = ".git"
# Environment read by imgaudit (cache, colour) and by click and rich (colour, width, encoding).
_ENVIRONMENT_PREFIXES = ("IMGAUDIT_",)
_ENVIRONMENT = frozenset(
    {
        "NO_COLOR",
        "FORCE_COLOR",
        "TERM",
        "COLORTERM",
        "COLUMNS",
        "LINES",
        "TTY_COMPATIBLE",
        "TTY_INTERACTIVE",
        "PYTHONIOENCODING",
        "PYTHONUTF8",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
    }
)
_RENDERING_LIBRARIES = ("click", "rich", "humanize")
_CODE_SUFFIXES = (".py", ".json", ".toml", ".js", ".css", ".html")
_ENTRY_SUFFIX = ".replay"
_CHECKSUM_SIZE = 32


class Ticket:
    """A command line this module can name: its key, and where its outputs go."""

    __slots__ = ("argv", "key", "outputs", "started")

    def __init__(self, key: str, argv: tuple[str, ...], outputs: tuple[str | None, ...], started: float):
        self.key = key
        self.argv = argv
        self.outputs = outputs  # each output's file as given; None: standard output
        self.started = started


_pending: Ticket | None = None  # the ticket of the full run in progress, for `record`


def ticket_for(argv: Sequence[str], started: float | None = None) -> Ticket | None:
    """The key of this command line, or None when a replay could not be exact."""
    if os.environ.get("IMGAUDIT_NO_CACHE", "") not in ("", "0"):
        return None
    parsed = _parse(list(argv))
    if parsed is None:
        return None
    inputs, outputs = parsed
    if None in outputs and sys.stdout.isatty():
        return None  # live terminal rendering: its width and colours
    try:
        stamps = [_file_stamp(path) for path in inputs]
        if any(stamp is None for stamp in stamps):
            return None
        fingerprint = (
            FORMAT_VERSION,
            tuple(argv),
            os.getcwd(),
            stamps,
            _config_stamps(),
            sorted(_environment().items()),
            sys.stdout.encoding if None in outputs else None,
            _code_stamp(),
        )
    except (OSError, ValueError):
        return None
    # repr of tuples, lists, str and int is canonical: equal inputs, equal text.
    key = sha256(repr(fingerprint).encode("utf-8", "backslashreplace")).hexdigest()
    return Ticket(key, tuple(argv), tuple(outputs), time.perf_counter() if started is None else started)


def _parse(argv: list[str]) -> tuple[list[str], list[str | None]] | None:
    """The input files and output places of an `audit` command line made only of the
    options above; None for anything else."""
    if argv[:1] == ["audit"]:
        argv = argv[1:]
    references: list[str] = []
    inputs: list[str] = []
    formats: list[str] = []
    output: str | None = None
    words = iter(argv)
    for word in words:
        if word.startswith("-"):
            name, equals, value = word.partition("=")
            if name in FLAGS and not equals:
                continue
            if name not in WORD_OPTIONS:
                return None  # --help, --no-cache, --base, --project, ..., `-qo`, `--`
            if not equals:
                value = next(words, "")
            if not value or (not equals and value.startswith("-")):
                return None  # let click say what is wrong
            if name in _FILE_OPTIONS:
                inputs.append(value)
            elif name == "--format":
                formats.append(value)
            elif name in _OUTPUT_OPTIONS:
                output = value
        else:
            references.append(word)
    if len(references) != 1:
        return None
    places: list[str | None] = []
    for value in formats or ["terminal"]:
        _, equals, file = value.partition("=")
        places.append(file if equals and file and file != "-" else None)
    if output is not None:
        if len(places) != 1 or places[0] is not None:
            return None
        places = [output]
    return [references[0], *inputs], places


def _file_stamp(path: str) -> tuple[int, ...] | None:
    """A regular file's identity and version; None for anything else (a directory's files
    can change under an unchanged directory; a name may be an image)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if (info.st_mode & 0o170000) != 0o100000:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _config_stamps() -> list[tuple[object, ...]]:
    """Every file the config search could read, present or not (a new one changes the key)."""
    stamps: list[tuple[object, ...]] = []
    place = os.path.realpath(os.getcwd())
    while True:
        for name in CONFIG_NAMES:
            try:
                info = os.stat(os.path.join(place, name))
            except OSError:
                continue
            stamps.append((place, name, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns))
        if os.path.exists(os.path.join(place, _SEARCH_STOP)):
            stamps.append((place, _SEARCH_STOP))
        parent = os.path.dirname(place)
        if parent == place:
            return stamps
        place = parent


def _environment() -> dict[str, str]:
    return {
        name: value
        for name, value in os.environ.items()
        if name in _ENVIRONMENT or name.startswith(_ENVIRONMENT_PREFIXES)
    }


_code: tuple[object, ...] | None = None


def _code_stamp() -> tuple[object, ...]:
    """What decides the outputs besides the inputs: this package's files, the interpreter,
    and the rendering libraries as installed (an upgrade replaces their files, so their
    directories' times change)."""
    global _code
    if _code is None:
        files: list[tuple[str, int, int]] = []
        pending = [_PACKAGE]
        while pending:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name != "__pycache__":
                            pending.append(entry.path)
                    elif entry.name.endswith(_CODE_SUFFIXES):
                        info = entry.stat()
                        files.append((entry.path, info.st_size, info.st_mtime_ns))
        libraries: list[tuple[str, int, int]] = []
        for name in _RENDERING_LIBRARIES:
            for location in sys.path:
                path = os.path.join(location or ".", name)
                if os.path.isdir(path):
                    info = os.stat(path)
                    libraries.append((path, info.st_ino, info.st_mtime_ns))
                    break
        _code = (sys.version, sys.executable, sorted(files), libraries)
    return _code


def _directory() -> str | None:
    from imgaudit.cachedir import cache_root

    root = cache_root()
    return os.path.join(root, "replay-1") if root is not None else None


def _entry_path(directory: str, key: str) -> str:
    return os.path.join(directory, key + _ENTRY_SUFFIX)


def serve(ticket: Ticket) -> int | None:
    """Write the stored outputs of this command and return its exit code; None on a miss
    (no entry, a damaged or foreign one, an output that cannot be written)."""
    directory = _directory()
    if directory is None:
        return None
    path = _entry_path(directory, ticket.key)
    entry = _read_entry(path, ticket.key)
    if entry is None or len(entry[1]) != len(ticket.outputs):
        return None
    code, texts = entry
    duration = repr(round(time.perf_counter() - ticket.started, 3))
    marker = repr(DURATION_MARKER)
    from imgaudit.errors import ImgauditError
    from imgaudit.report.files import write_report_file

    try:
        for place, text in zip(ticket.outputs, texts, strict=True):
            written = text.replace(marker, duration)
            if place is None:
                sys.stdout.flush()
                sys.stdout.buffer.write(written.encode(sys.stdout.encoding or "utf-8", "backslashreplace"))
                sys.stdout.flush()
            else:
                write_report_file(place, written)
    except ImgauditError:
        return None  # the full run says what is wrong with the place, in its one line
    try:
        os.utime(path)  # the least recently used entries go first
    except OSError:
        pass
    return code


def _read_entry(path: str, key: str) -> tuple[int, list[str]] | None:
    """An entry is a checksum, then marshal's form of (key, exit code, texts): a damaged,
    truncated or foreign file is a miss."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        checksum, payload = data[:_CHECKSUM_SIZE], data[_CHECKSUM_SIZE:]
        if sha256(payload).digest() != checksum:
            return None
        stored_key, code, texts = marshal.loads(payload)
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if stored_key != key or code not in (0, 1) or not isinstance(texts, list):
        return None
    if not all(isinstance(text, str) for text in texts):
        return None
    return code, texts


def expect(started: float, argv: Sequence[str]) -> Ticket | None:
    """Called by the entry point before a full run: that run may store its outputs."""
    global _pending
    _pending = ticket_for(argv, started)
    return _pending


def forget() -> None:
    """This run's outputs must not be replayed (it warned, or read what the key misses)."""
    global _pending
    _pending = None


def record(render: Callable[[float], list[str | None]], exit_code: int) -> None:
    """Store the outputs of the full run in progress, if the entry point expected it.
    `render(duration)` gives each output's text as written with that duration (None where
    the output is not a fixed text). Texts are stored with the marker in the duration's
    place, after checking that the marker stands exactly where the duration stood."""
    global _pending
    ticket, _pending = _pending, None
    if ticket is None:
        return
    again = ticket_for(ticket.argv, ticket.started)
    directory = _directory()
    if directory is None or again is None or again.key != ticket.key:
        return  # an input changed while the run read it
    marked = render(DURATION_MARKER)
    plain = render(0.0)
    texts = [text for text in marked if text is not None]
    if len(texts) != len(ticket.outputs) or None in plain:
        return
    for with_marker, with_zero in zip(texts, plain, strict=True):
        if with_marker.replace(repr(DURATION_MARKER), "0.0") != with_zero:
            return  # the duration is rendered in a form a replay could not substitute
    payload = marshal.dumps((ticket.key, exit_code, texts))
    try:
        os.makedirs(directory, exist_ok=True)
        from imgaudit.report.files import write_bytes_atomically

        write_bytes_atomically(_entry_path(directory, ticket.key), sha256(payload).digest() + payload)
        _evict(directory)
    except OSError:
        return  # a cache that cannot be written is only a slower next run


def _evict(directory: str) -> None:
    """Keep the MAX_ENTRIES most recently used entries; a concurrent run removing the same
    file first is harmless."""
    with os.scandir(directory) as found:
        entries = [
            (entry.stat().st_mtime_ns, entry.path) for entry in found if entry.name.endswith(_ENTRY_SUFFIX)
        ]
    for _, path in sorted(entries, reverse=True)[MAX_ENTRIES:]:
        try:
            os.unlink(path)
        except OSError:
            pass

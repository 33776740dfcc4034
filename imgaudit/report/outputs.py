"""`--format FORMAT[=FILE]`, repeatable: which renderers of a `FormatRegistry` run and where
each one writes.

One format may go to standard output; the others need a file. `--output FILE` names the file
of a single format given without one (the way `--format json --output r.json` always worked).
Text that is not going to an interactive terminal is never hard-wrapped and carries no
trailing spaces: CI logs are wide and diffable.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Generic, TextIO, TypeVar

import click

from imgaudit.errors import UsageError
from imgaudit.report.files import write_report_file
from imgaudit.report.formats import Format, FormatRegistry, Paint

if TYPE_CHECKING:  # rich loads when something is painted: `--help` stays fast
    from rich.console import Console

T = TypeVar("T")
# Wide enough that no line of a report is ever wrapped when it goes to a file or a pipe.
UNWRAPPED_WIDTH = 100_000


@dataclass(frozen=True, slots=True)
class OutputSpec(Generic[T]):
    format: Format[T]
    path: Path | None  # None: standard output


def parse_outputs(
    registry: FormatRegistry[T], values: Sequence[str], output: Path | None
) -> tuple[OutputSpec[T], ...]:
    specs: list[OutputSpec[T]] = []
    for value in values or (registry.default,):
        name, sep, file = value.partition("=")
        chosen = registry.get(name.strip().lower())
        if chosen is None:
            known = ", ".join(registry.names())
            raise UsageError(f"--format {value!r}: unknown format {name!r}; known: {known}")
        if sep and not file:
            raise UsageError(f"--format {value!r}: no file after '='")
        specs.append(OutputSpec(chosen, Path(file) if sep and file != "-" else None))
    if output is not None:
        if len(specs) != 1 or specs[0].path is not None:
            raise UsageError("--output names the file of a single --format; with several, use FORMAT=FILE")
        specs = [OutputSpec(specs[0].format, output)]
    elif len([s for s in specs if s.path is None]) > 1:
        raise UsageError(
            "only one --format can print to standard output; give the others a file, like --format markdown=comment.md"
        )
    for spec in specs:
        if spec.format.needs_file and spec.path is None:
            raise UsageError(f"--format {spec.format.name} needs a file: --format {spec.format.name}=FILE")
    return tuple(specs)


def emit(specs: Sequence[OutputSpec[T]], value: T) -> None:
    """Render `value` in every format asked for, each to its place."""
    for spec in specs:
        rendered = spec.format.render(value)
        if isinstance(rendered, str):
            write_text(spec.path, rendered)
        else:
            write_console(spec.path, rendered)
        if spec.format.after is not None:
            spec.format.after(value)


def written_text(spec: OutputSpec[T], value: T) -> str | None:
    """The text `emit` writes for this output, or None where it writes no fixed text: a live
    terminal, or a format with a side effect after it (`replay` stores only fixed texts)."""
    if spec.format.after is not None or (spec.path is None and sys.stdout.isatty()):
        return None
    rendered = spec.format.render(value)
    return rendered if isinstance(rendered, str) else plain_text(rendered)


def printable(text: str, encoding: str = "utf-8") -> str:
    """Text the stream can encode: a lone surrogate (an undecodable byte of a tag or a history
    line, as Python keeps it) becomes `\\udcXX` instead of a UnicodeEncodeError. Rich already
    strips control characters from what it renders; this is the one place for the rest."""
    return text.encode(encoding, "backslashreplace").decode(encoding)


class SafeStream:
    """A text stream whose writes go through `printable`: the console boundary."""

    def __init__(self, stream: TextIO | IO[str]) -> None:
        self._stream = stream
        self._encoding = getattr(stream, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        return self._stream.write(printable(text, self._encoding))

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, flush, encoding, ...
        return getattr(self._stream, name)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NAMED = {"\n": "\\n", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    character = match.group()
    return _NAMED.get(character) or f"\\x{ord(character):02x}"


def without_controls(text: str) -> str:
    """Control characters from an image (an ESC in a history line would restyle or rewrite
    the user's terminal) shown as `\\x1b` instead; newlines and tabs stay."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def one_line(text: str) -> str:
    """A name from the image (a path, an environment) on one line: its newlines and tabs
    shown as `\\n` and `\\t` too, so that a file called `a<newline>b` is one row."""
    return _ANY_CONTROL.sub(_escaped, text)


def _safe_console_class() -> type[Console]:
    """A rich Console whose every piece of text about to be written (table cells, Text,
    printed lines) passes here, after layout and before rich adds its own styling sequences.
    Made on first use, so that rich loads only for a run that paints."""
    global _SAFE_CONSOLE
    if _SAFE_CONSOLE is None:
        from rich.console import Console
        from rich.segment import Segment

        class SafeConsole(Console):
            def _render_buffer(self, buffer: Iterable[Segment]) -> str:
                return super()._render_buffer(
                    segment if segment.control else Segment(without_controls(segment.text), segment.style)
                    for segment in buffer
                )

        _SAFE_CONSOLE = SafeConsole
    return _SAFE_CONSOLE


_SAFE_CONSOLE: type[Console] | None = None


def safe_console(file: TextIO | IO[str] | None = None, **options: Any) -> Console:
    """The console boundary: a rich Console whose strings lose their control characters and
    whose output escapes what the stream cannot encode (standard output when `file` is None)."""
    stream = SafeStream(file if file is not None else sys.stdout)
    # No markup and no emoji codes: text from an image (a path `[/]x`, a tag `a:smile:`) is
    # printed as it is, not read as rich's styling (`[/]` alone raised MarkupError).
    options = {"markup": False, "emoji": False, **options}
    return _safe_console_class()(file=stream, **options)  # type: ignore[arg-type]


def write_console(path: Path | None, render: Paint) -> None:
    """A rich rendering: live on an interactive terminal (its width, colours); else plain text,
    unwrapped, without trailing spaces. Both pass the console boundary (`safe_console`)."""
    if path is None and sys.stdout.isatty():
        render(safe_console(no_color="NO_COLOR" in os.environ))
        return
    write_text(path, plain_text(render))


def plain_text(render: Paint) -> str:
    buffer = io.StringIO()
    render(safe_console(buffer, no_color=True, width=UNWRAPPED_WIDTH, color_system=None, highlight=False))
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def write_text(path: Path | None, text: str) -> None:
    if path is None:
        click.echo(printable(text, sys.stdout.encoding or "utf-8"), nl=False)
        return
    write_report_file(path, text)


def append_text(path: Path, text: str) -> None:
    write_report_file(path, text + "\n", append=True)

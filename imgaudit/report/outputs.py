"""`--format FORMAT[=FILE]`, repeatable: which renderers run and where each one writes.

One format may go to standard output; the others need a file. `--output FILE` names the file
of a single format given without one (the way `--format json --output r.json` always worked).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, TextIO, assert_never

import click
from rich.console import Console
from rich.segment import Segment

from imgaudit.diff import to_dict as comparison_to_dict
from imgaudit.errors import ImgauditError, UsageError
from imgaudit.gate import CiReport, gate_to_dict
from imgaudit.model import Report
from imgaudit.report import github, junit, markdown, terminal
from imgaudit.report import json as json_report
from imgaudit.report.gate_console import render_comparison, render_gate

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


class OutputFormat(StrEnum):
    TERMINAL = "terminal"
    JSON = "json"
    MARKDOWN = "markdown"
    GITHUB = "github"
    JUNIT = "junit"


FORMAT_HELP = (
    "terminal (default): the one-screen report. json: the versioned report with its gate section. "
    "markdown: a pull-request comment. github: workflow annotations (+ job summary in "
    "$GITHUB_STEP_SUMMARY). junit: one test case per rule. Repeatable, each to its own file: "
    "--format json=report.json --format markdown=comment.md."
)


@dataclass(frozen=True, slots=True)
class OutputSpec:
    format: OutputFormat
    path: Path | None  # None: standard output


def parse_outputs(values: Sequence[str], output: Path | None) -> tuple[OutputSpec, ...]:
    specs = []
    for value in values or ("terminal",):
        name, sep, file = value.partition("=")
        try:
            chosen = OutputFormat(name.strip().lower())
        except ValueError:
            known = ", ".join(f.value for f in OutputFormat)
            raise UsageError(f"--format {value!r}: unknown format {name!r}; known: {known}") from None
        if sep and not file:
            raise UsageError(f"--format {value!r}: no file after '='")
        specs.append(OutputSpec(chosen, Path(file) if sep and file != "-" else None))
    to_stdout = [s for s in specs if s.path is None]
    if output is not None:
        if len(to_stdout) != 1 or len(specs) != 1:
            raise UsageError("--output names the file of a single --format; with several, use FORMAT=FILE")
        specs = [OutputSpec(specs[0].format, output)]
    elif len(to_stdout) > 1:
        raise UsageError(
            "only one --format can print to standard output; give the others a file, like --format markdown=comment.md"
        )
    return tuple(specs)


def report_document(ci: CiReport, document: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON report with the gate and, against a baseline, the comparison."""
    full = dict(document)
    full["gate"] = gate_to_dict(ci.gate)
    if ci.comparison is not None:
        full["comparison"] = comparison_to_dict(ci.comparison)
    return full


def emit(
    specs: Sequence[OutputSpec],
    report: Report,
    ci: CiReport,
    document: Mapping[str, Any],
    packages: Sequence[str] = (),  # `--packages os`: extra terminal sections
) -> None:
    for spec in specs:
        chosen = spec.format
        if chosen is OutputFormat.TERMINAL:
            write_console(spec.path, lambda console: _renderwrite_console(report, ci, console, packages))
        elif chosen is OutputFormat.JSON:
            write_text(spec.path, json_report.render_document(report_document(ci, document)))
        elif chosen is OutputFormat.MARKDOWN:
            write_text(spec.path, markdown.render(ci))
        elif chosen is OutputFormat.GITHUB:
            write_text(spec.path, github.render(ci))
            summary = os.environ.get(STEP_SUMMARY)
            if summary:
                _append(Path(summary), markdown.render(ci))
        elif chosen is OutputFormat.JUNIT:
            write_text(spec.path, junit.render(ci))
        else:
            assert_never(chosen)


def _renderwrite_console(
    report: Report, ci: CiReport, console: Console, packages: Sequence[str] = ()
) -> None:
    terminal.render(report, console, packages)
    if ci.comparison is not None:
        render_comparison(ci.comparison, console)
    render_gate(ci.gate, console)


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


def without_controls(text: str) -> str:
    """Control characters from an image (an ESC in a history line would restyle or rewrite
    the user's terminal) shown as `\\x1b` instead; newlines and tabs stay."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class _SafeConsole(Console):
    """Every piece of text rich is about to write (table cells, Text, printed lines) passes
    here, after layout and before rich adds its own styling sequences."""

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        return super()._render_buffer(
            segment if segment.control else Segment(without_controls(segment.text), segment.style)
            for segment in buffer
        )


def safe_console(file: TextIO | IO[str] | None = None, **options: Any) -> Console:
    """The console boundary: a rich Console whose strings lose their control characters and
    whose output escapes what the stream cannot encode (standard output when `file` is None)."""
    stream = SafeStream(file if file is not None else sys.stdout)
    return _SafeConsole(file=stream, **options)  # type: ignore[arg-type]


def write_console(path: Path | None, render: Callable[[Console], None]) -> None:
    if path is None:
        render(safe_console(no_color="NO_COLOR" in os.environ))
        return
    with _open(path, "w") as handle:
        render(safe_console(handle, no_color=True, width=120))


def write_text(path: Path | None, text: str) -> None:
    if path is None:
        click.echo(printable(text, sys.stdout.encoding or "utf-8"), nl=False)
        return
    with _open(path, "w") as handle:
        handle.write(printable(text))


def _append(path: Path, text: str) -> None:
    with _open(path, "a") as handle:
        handle.write(printable(text) + "\n")


@contextlib.contextmanager
def _open(path: Path, mode: str) -> Iterator[IO[str]]:
    """A report file, written whole or not at all: a regular file is written beside its
    place and renamed over it; a device, a pipe or an append goes straight to the path.
    Every OSError (a full disk, a missing directory) is one line naming the file."""
    try:
        if mode == "w" and _replaceable(path):
            with tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
            ) as handle:
                temporary = Path(handle.name)
                try:
                    yield handle
                    handle.flush()
                    os.fsync(handle.fileno())
                except BaseException:
                    handle.close()
                    temporary.unlink(missing_ok=True)
                    raise
            temporary.replace(path)
        else:
            with path.open(mode, encoding="utf-8") as handle:
                yield handle
    except OSError as exc:
        raise ImgauditError(f"cannot write the report: {exc.strerror or exc}", where=str(path)) from None


def _replaceable(path: Path) -> bool:
    """A path that is a regular file or nothing yet (never `/dev/stdout` or a FIFO)."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        return path.parent.is_dir()
    except OSError:
        return False

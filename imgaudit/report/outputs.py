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
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Generic, TypeVar

import click
from rich.console import Console

from imgaudit.errors import ImgauditError, UsageError
from imgaudit.report.formats import Format, FormatRegistry, Paint

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


def write_console(path: Path | None, render: Paint) -> None:
    """A rich rendering: live on an interactive terminal (its width, colours); else plain text,
    unwrapped, without trailing spaces."""
    if path is None and sys.stdout.isatty():
        render(Console(no_color="NO_COLOR" in os.environ))
        return
    write_text(path, plain_text(render))


def plain_text(render: Paint) -> str:
    buffer = io.StringIO()
    render(Console(file=buffer, no_color=True, width=UNWRAPPED_WIDTH, color_system=None, highlight=False))
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def write_text(path: Path | None, text: str) -> None:
    if path is None:
        click.echo(text, nl=False)
        return
    with _open(path, "w") as handle:
        handle.write(text)


def append_text(path: Path, text: str) -> None:
    with _open(path, "a") as handle:
        handle.write(text + "\n")


def _open(path: Path, mode: str) -> IO[str]:
    try:
        return path.open(mode, encoding="utf-8")
    except OSError as exc:
        raise ImgauditError(f"cannot write the report: {exc.strerror}", where=str(path)) from exc

"""One format registry: every `--format` of `audit`, `diff` and `lint` is a `Format` in a
`FormatRegistry`, rendered from that command's one input (`AuditView` for audit, `Comparison`
for diff, the lint result for lint). Parsing `--format FORMAT[=FILE]`, the help text and
writing every output are shared (`outputs.py`).

A renderer returns text (written as is) or a `Paint` (a function that prints to a rich
console: the terminal report, which needs the console's width and colours).

A command adds its formats like this (`lint`, over its own result type)::

    LINT_FORMATS = FormatRegistry("lint", [Format("text", "(default) one line a hint", to_text),
                                           Format("sarif", "SARIF 2.1.0", to_sarif)])
    emit(parse_outputs(LINT_FORMATS, format_values, output), result)

with `to_sarif` built on `report.sarif.sarif_log` and `github.command` for annotations.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # rich loads when something is painted: `--help` stays fast
    from rich.console import Console

T = TypeVar("T")
Paint = Callable[["Console"], None]


@dataclass(frozen=True, slots=True)
class Format(Generic[T]):
    name: str
    help: str
    render: Callable[[T], str | Paint]
    needs_file: bool = False  # a page or document that makes no sense on standard output
    after: Callable[[T], None] | None = None  # a side output, e.g. GitHub's job summary


def lazy(module: str, name: str) -> Callable[..., Any]:
    """`module.name`, imported on its first call: `--help` and the other formats never load it
    (the HTML page, JUnit's XML and the SARIF builder cost tens of milliseconds each)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    return call


class FormatRegistry(Generic[T]):
    """The formats of one command, in the order `--help` lists them; the first is the default."""

    def __init__(self, command: str, formats: Iterable[Format[T]]) -> None:
        self.command = command
        self.formats: dict[str, Format[T]] = {f.name: f for f in formats}

    @property
    def default(self) -> str:
        return next(iter(self.formats))

    def get(self, name: str) -> Format[T] | None:
        return self.formats.get(name)

    def names(self) -> tuple[str, ...]:
        return tuple(self.formats)

    def help(self) -> str:
        listed = ". ".join(f"{f.name}: {f.help}" for f in self.formats.values())
        return f"{listed}. Repeatable, each to its own file: --format json=report.json --format markdown=comment.md."

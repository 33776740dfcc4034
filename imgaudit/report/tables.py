"""The one table style of the terminal reports: a title, a rule under the header, no frame.
Frames cost two lines a table; the report has to fit one screen."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

# Plain text (no TTY, NO_COLOR, files): ASCII only, so logs and CI output stay readable.
_PLAIN = box.Box("    \n    \n -  \n    \n    \n -  \n    \n    \n", ascii=True)


def is_plain(console: Console) -> bool:
    """No TTY or NO_COLOR: ASCII tables, no styles."""
    return console.no_color or not console.is_terminal


def report_table(title: str, plain: bool, **options: Any) -> Table:
    return Table(
        title=title,
        box=_PLAIN if plain else box.SIMPLE_HEAD,
        show_edge=False,
        title_justify="left",
        title_style="bold" if not plain else "",
        **options,
    )

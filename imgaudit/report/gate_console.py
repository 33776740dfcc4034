"""The gate and the baseline comparison on the terminal, after the report (and alone for
`imgaudit diff`)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from imgaudit.diff import Change, Comparison
from imgaudit.gate_result import GateResult, Outcome
from imgaudit.report.tables import is_plain, report_table
from imgaudit.report.units import human_bytes

CHANGES_SHOWN = 15
_STYLES = {Outcome.PASSED: "green", Outcome.FAILED: "bold red", Outcome.SKIPPED: "yellow"}


def render_gate(result: GateResult, console: Console) -> None:
    if not result.results:
        return
    table = report_table(f"Gate: {result.verdict}", is_plain(console))
    table.add_column("result", no_wrap=True)
    table.add_column("rule", no_wrap=True)
    table.add_column("measured against the limit", overflow="fold")
    for rule in result.results:
        table.add_row(Text(rule.outcome.value, style=_STYLES[rule.outcome]), rule.name, rule.message)
    console.print(table)


def _size(size: int | None) -> str:
    return "-" if size is None else human_bytes(size)


def _signed(change: Change) -> Text:
    sign = "+" if change.delta >= 0 else "-"
    return Text(f"{sign}{human_bytes(abs(change.delta))}", style="red" if change.delta > 0 else "green")


def render_comparison(comparison: Comparison, console: Console, limit: int = CHANGES_SHOWN) -> None:
    total = comparison.total
    share = f" ({total.percent:+.1f}%)" if total.percent is not None else ""
    console.print(
        f"before: {comparison.before_reference}\nafter:  {comparison.after_reference}", highlight=False
    )
    console.print(
        Text.assemble(
            f"image (all layers): {_size(total.before)} -> {_size(total.after)}, ", _signed(total), share
        )
    )
    changes = comparison.changes()[:limit]
    if not changes:
        console.print("No category, layer or package changed size.")
        return
    table = report_table("What changed, largest first", is_plain(console))
    for column in ("change", "what", "name"):
        table.add_column(column, no_wrap=column != "name", overflow="fold")
    for column in ("before", "after", "delta"):
        table.add_column(column, justify="right", no_wrap=True)
    for change in changes:
        name = f"{change.name} {change.detail}".strip()
        table.add_row(
            change.kind.value,
            change.scope.value,
            name,
            _size(change.before),
            _size(change.after),
            _signed(change),
        )
    console.print(table)
    if comparison.packages is None:
        console.print(Text("packages not compared: a report has no Python environments", style="dim"))

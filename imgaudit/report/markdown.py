"""`--format markdown`: a compact pull-request comment. A verdict line, the rules, what grew
since the baseline and the findings worth fixing: a reviewer reads it in ten seconds."""

from __future__ import annotations

from collections.abc import Sequence

from imgaudit.diff import Change, ChangeKind, Comparison, Scope
from imgaudit.gate import CiReport
from imgaudit.gate.rules import Outcome, RuleResult, Unit
from imgaudit.model import Category
from imgaudit.report.terminal import category_label
from imgaudit.report.units import human_bytes

CHANGES_SHOWN = 10
FINDINGS_SHOWN = 5
_ICONS = {Outcome.PASSED: "✅ passed", Outcome.FAILED: "❌ failed", Outcome.SKIPPED: "⏭️ skipped"}


def cell(text: str) -> str:
    """Text safe inside a table cell: a `|` would split the cell, a newline end the row."""
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def code(text: str) -> str:
    """Inline code that survives backticks in the text (Dockerfile instructions may have them)."""
    fence = "``" if "`" in text else "`"
    return f"{fence} {text} {fence}" if "`" in text else f"{fence}{text}{fence}"


def signed(delta: int) -> str:
    return ("+" if delta >= 0 else "-") + human_bytes(abs(delta))


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return lines


def _verdict(ci: CiReport) -> str:
    figures, gate = ci.figures, ci.gate
    icon = "❌" if gate.failed else "✅"
    line = (
        f"### {icon} imgaudit: {gate.verdict} · {code(figures.reference)}\n\n"
        f"**{human_bytes(figures.total_bytes)}** image (all layers) · "
        f"{human_bytes(figures.final_bytes)} final filesystem · "
        f"{human_bytes(figures.wasted_bytes)} wasted"
    )
    if ci.comparison is not None:
        total = ci.comparison.total
        share = f" ({total.percent:+.1f}%)" if total.percent is not None else ""
        line += f" · **{signed(total.delta)}**{share} vs baseline {code(ci.comparison.before_reference)}"
    return line


def _limit(rule: RuleResult) -> str:
    if rule.limit is None:
        return rule.limit_spec
    if rule.unit is Unit.BYTES:
        text = human_bytes(int(rule.limit))
        return f"{rule.limit_spec} ({text})" if rule.limit_spec.endswith("%") else text
    return rule.limit_spec


def _value(rule: RuleResult) -> str:
    if rule.value is None:
        return "-"
    if rule.unit is Unit.BYTES:
        return signed(int(rule.value)) if rule.key.endswith("growth") else human_bytes(int(rule.value))
    if rule.unit is Unit.RATIO:
        return f"{rule.value:.4f}"
    return str(rule.value)


def _rules(ci: CiReport) -> list[str]:
    rows = [[code(r.name), _value(r), _limit(r), _ICONS[r.outcome]] for r in ci.gate.results]
    return _table(["rule", "measured", "limit", "result"], rows, ["---", "--:", "--:", "---"])


def _label(change: Change) -> str:
    if change.scope is Scope.CATEGORY and change.name in {c.value for c in Category}:
        return f"category: {category_label(Category(change.name))}"
    name = code(change.name) if change.scope is Scope.LAYER else change.name
    detail = f" {change.detail}" if change.detail else ""
    return f"{change.scope.value}: {name}{detail}"


def _growth(comparison: Comparison | None) -> list[str]:
    if comparison is None:
        return []
    changes = comparison.changes()[:CHANGES_SHOWN]
    if not changes:
        return ["", "No category, layer or package changed size since the baseline."]
    rows = [
        [
            _label(c),
            "-" if c.before is None else human_bytes(c.before),
            "-" if c.after is None else human_bytes(c.after),
            signed(c.delta)
            + ("" if c.kind in (ChangeKind.GREW, ChangeKind.SHRANK) else f" ({c.kind.value})"),
        ]
        for c in changes
    ]
    table = _table(["what", "before", "after", "change"], rows, ["---", "--:", "--:", "--:"])
    return ["", "#### What changed since the baseline", "", *table]


def _findings(ci: CiReport) -> list[str]:
    findings = sorted(ci.figures.findings or (), key=lambda f: (-f.savings_bytes, f.id))[:FINDINGS_SHOWN]
    if not findings:
        return []
    rows = [[code(f.id), f.title, human_bytes(f.savings_bytes) if f.savings_bytes else "-"] for f in findings]
    lines = ["", "#### Top findings", "", *_table(["finding", "what", "saves"], rows, ["---", "---", "--:"])]
    if ci.figures.plan_savings_bytes is not None:
        lines += ["", f"The plan removes **{human_bytes(ci.figures.plan_savings_bytes)}** in total."]
    return lines


def render(ci: CiReport) -> str:
    lines = [_verdict(ci)]
    if ci.gate.results:
        lines += ["", *_rules(ci)]
    lines += _growth(ci.comparison)
    lines += _findings(ci)
    return "\n".join(lines) + "\n"


def render_comparison(comparison: Comparison) -> str:
    """`imgaudit diff --format markdown`: the totals, then what changed, largest first."""
    total = comparison.total
    share = f" ({total.percent:+.1f}%)" if total.percent is not None else ""
    lines = [
        f"### imgaudit diff: {code(comparison.before_reference)} → {code(comparison.after_reference)}",
        "",
        f"Image (all layers): {human_bytes(total.before or 0)} → {human_bytes(total.after or 0)}, "
        f"**{signed(total.delta)}**{share}",
        *_growth(comparison),
    ]
    return "\n".join(lines) + "\n"

"""`--format markdown`: a compact pull-request comment. The answer (what is removable), the
gate's verdict and rules when there are limits, what grew since the baseline, the plan and each
finding with its fix: a reviewer reads it in ten seconds, the snippets are one click away."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from imgaudit.diff import Change, ChangeKind, Comparison, Scope
from imgaudit.gate_result import GateResult, Outcome, RuleResult, Unit
from imgaudit.model import Category, Report
from imgaudit.report.labels import category_label
from imgaudit.report.units import human_bytes, percent
from imgaudit.report.view import AuditView
from imgaudit.report.words import ARTICLE_URL, README_SECTION, removable_phrase

CHANGES_SHOWN = 10
FINDINGS_SHOWN = 10
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


def _verdict(view: AuditView) -> str:
    report, gate = view.report, view.gate
    title = f"imgaudit · {code(report.image.reference)}"
    if gate is not None:
        title = f"{'❌' if gate.failed else '✅'} imgaudit: {gate.verdict} · {code(report.image.reference)}"
    line = (
        f"### {title}\n\n"
        f"**{human_bytes(report.total_bytes)}** image (all layers) · "
        f"{human_bytes(report.final_bytes)} final filesystem · "
        f"{human_bytes(report.wasted_bytes)} wasted"
    )
    if view.comparison is not None:
        total = view.comparison.total
        share = f" ({total.percent:+.1f}%)" if total.percent is not None else ""
        line += f" · **{signed(total.delta)}**{share} vs baseline {code(view.comparison.before_reference)}"
    return line + f"\n\n**{removable_phrase(report)}**"


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


def _rules(gate: GateResult, limits_from: Path | None) -> list[str]:
    rows = [[code(r.name), _value(r), _limit(r), _ICONS[r.outcome]] for r in gate.results]
    table = _table(["rule", "measured", "limit", "result"], rows, ["---", "--:", "--:", "---"])
    source = ["", f"Limits from {code(str(limits_from))}."] if limits_from is not None else []
    return [*table, *source]


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


def _plan(report: Report) -> list[str]:
    plan = report.plan
    if plan is None or not plan.steps:
        return []
    rows = [
        [
            str(number),
            step.title,
            human_bytes(step.estimated_savings_bytes) if step.estimated_savings_bytes else "-",
            human_bytes(step.estimated_final_bytes),
        ]
        for number, step in enumerate(plan.steps, 1)
    ]
    total = (
        f"Total: **{human_bytes(plan.estimated_savings_bytes)}** "
        f"({percent(plan.estimated_savings_bytes, report.total_bytes)}) → {human_bytes(plan.estimated_final_bytes)}"
    )
    return [
        "",
        f"#### Plan: [the reference practices]({ARTICLE_URL}) that apply, in the order to apply them",
        "",
        *_table(["#", "change", "saves", "image after"], rows, ["--:", "---", "--:", "--:"]),
        "",
        total,
        "",
        f"<sub>The reference practices: Poetry + Docker multi-stage best practice (imgaudit's README, "
        f"“{README_SECTION}”).</sub>",
    ]


def _lines(view: AuditView, starts: list[tuple[int, int]]) -> str:
    if not starts:
        return "-"
    where = f"{view.dockerfile.as_posix()}:" if view.dockerfile is not None else "line "
    return ", ".join(f"{where}{a}" if a == b else f"{where}{a}-{b}" for a, b in starts)


def _findings(view: AuditView) -> list[str]:
    findings = view.report.findings[:FINDINGS_SHOWN]
    if not findings:
        return []
    rows = [
        [
            code(f.id),
            f.severity.value,
            human_bytes(f.estimated_savings_bytes) if f.estimated_savings_bytes else "-",
            f"{f.title}. **Fix:** {f.fix.text}",
            _lines(view, [(line.start, line.end) for line in f.dockerfile_lines]),
        ]
        for f in findings
    ]
    lines = [
        "",
        "#### Findings and their fixes",
        "",
        *_table(
            ["finding", "severity", "saves", "what and how to fix", "Dockerfile"],
            rows,
            ["---", "---", "--:", "---", "---"],
        ),
    ]
    snippets = [f for f in findings if f.fix.dockerfile]
    if snippets:
        lines += ["", "<details><summary>Dockerfile snippets</summary>", ""]
        for f in snippets:
            lines += [f"{code(f.id)}:", "", "```dockerfile", f.fix.dockerfile.rstrip("\n"), "```", ""]
        lines.append("</details>")
    return lines


def render(view: AuditView) -> str:
    lines = [_verdict(view)]
    if view.gate is not None:
        lines += ["", *_rules(view.gate, view.limits_from)]
    lines += _growth(view.comparison)
    lines += _plan(view.report)
    lines += _findings(view)
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

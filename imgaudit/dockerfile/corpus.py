"""The lint corpus (tests/assets/dockerfiles): its manifest and the score of lint against it.

Shared by the corpus test (the whole table must match) and `benchmarks/lint_precision.py`
(precision and recall of the size findings).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from imgaudit.dockerfile.commands import run_lint
from imgaudit.findings.catalogue import SIZE_IDS

# The day the corpus's expectations were judged: end-of-life dates are compared with it.
CORPUS_DAY = dt.date(2026, 12, 1)


@dataclass(frozen=True, slots=True)
class CorpusCase:
    name: str
    dockerfile: Path
    seen_in: str
    manager: str
    pattern: str
    target: str | None
    expected: frozenset[str]  # "id:line"


@dataclass(frozen=True, slots=True)
class Score:
    true_positive: int
    false_positive: int
    false_negative: int

    @property
    def precision(self) -> float:
        found = self.true_positive + self.false_positive
        return self.true_positive / found if found else 1.0

    @property
    def recall(self) -> float:
        real = self.true_positive + self.false_negative
        return self.true_positive / real if real else 1.0


def load_corpus(root: Path) -> list[CorpusCase]:
    manifest = tomllib.loads((root / "manifest.toml").read_text(encoding="utf-8"))
    return [
        CorpusCase(
            name=item["name"],
            dockerfile=root / item["dockerfile"],
            seen_in=item["seen_in"],
            manager=item["manager"],
            pattern=item["pattern"],
            target=item.get("target"),
            expected=frozenset(item["expected"]),
        )
        for item in manifest["case"]
    ]


def linted(case: CorpusCase) -> frozenset[str]:
    hints = run_lint(case.dockerfile, CORPUS_DAY, case.dockerfile.parent, case.target)
    return frozenset(f"{h.id}:{h.line}" for h in hints)


def size_only(findings: frozenset[str]) -> frozenset[str]:
    return frozenset(f for f in findings if f.split(":", 1)[0] in SIZE_IDS)


def score(cases: list[CorpusCase]) -> tuple[Score, dict[str, Score]]:
    """Size findings: all of them, and per id."""
    counts: Counter[tuple[str, str]] = Counter()
    for case in cases:
        expected, found = size_only(case.expected), size_only(linted(case))
        for item in found & expected:
            counts[("tp", item.split(":")[0])] += 1
        for item in found - expected:
            counts[("fp", item.split(":")[0])] += 1
        for item in expected - found:
            counts[("fn", item.split(":")[0])] += 1
    ids = sorted({finding_id for _, finding_id in counts})
    per_id = {i: Score(counts[("tp", i)], counts[("fp", i)], counts[("fn", i)]) for i in ids}
    total = Score(
        sum(s.true_positive for s in per_id.values()),
        sum(s.false_positive for s in per_id.values()),
        sum(s.false_negative for s in per_id.values()),
    )
    return total, per_id

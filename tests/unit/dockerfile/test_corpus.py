"""The lint corpus: every Dockerfile's findings, ids and lines, exactly as the manifest says."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgaudit.dockerfile.corpus import linted, load_corpus, score

CORPUS = Path(__file__).parents[2] / "assets" / "dockerfiles"
CASES = load_corpus(CORPUS)


def test_the_corpus_is_large_and_varied() -> None:
    managers = [c.manager for c in CASES]
    assert len({c.dockerfile for c in CASES}) >= 40
    assert managers.count("poetry") >= 20
    assert {"pip", "uv", "pipenv", "pdm"} <= set(managers)
    assert all(c.seen_in for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_lint_finds_exactly_the_expected_findings(case) -> None:  # type: ignore[no-untyped-def]
    found = linted(case)
    assert sorted(found - case.expected) == [], "reported but not expected"
    assert sorted(case.expected - found) == [], "expected but not reported"


def test_size_findings_meet_the_precision_and_recall_targets() -> None:
    total, _ = score(CASES)
    assert total.precision >= 0.95
    assert total.recall >= 0.90

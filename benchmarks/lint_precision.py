"""Precision and recall of `imgaudit lint`'s size findings over the committed corpus.

    python benchmarks/lint_precision.py

Each corpus Dockerfile (tests/assets/dockerfiles) reproduces a pattern seen in a public
project; its manifest lists every finding lint must report. A size finding reported but not
expected is a false positive, one expected but not reported a false negative (same id and
line). Also prints the time to lint the whole corpus.
"""

from __future__ import annotations

import time
from pathlib import Path

from imgaudit.dockerfile.corpus import load_corpus, score

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "assets" / "dockerfiles"


def main() -> None:
    cases = load_corpus(CORPUS)
    started = time.perf_counter()
    total, per_id = score(cases)
    elapsed = time.perf_counter() - started
    print(f"corpus: {len({c.dockerfile for c in cases})} Dockerfiles, {len(cases)} cases")
    print(f"{'finding':<28} {'TP':>4} {'FP':>4} {'FN':>4} {'precision':>10} {'recall':>8}")
    for finding_id, item in per_id.items():
        print(
            f"{finding_id:<28} {item.true_positive:>4} {item.false_positive:>4} {item.false_negative:>4} "
            f"{item.precision:>10.1%} {item.recall:>8.1%}"
        )
    print(
        f"{'all size findings':<28} {total.true_positive:>4} {total.false_positive:>4} "
        f"{total.false_negative:>4} {total.precision:>10.1%} {total.recall:>8.1%}"
    )
    print(f"lint over the corpus: {elapsed * 1000:.0f} ms ({elapsed / len(cases) * 1000:.1f} ms per case)")


if __name__ == "__main__":
    main()

"""Per-directory views of the final files: 10^5 files sit in 10^3 directories, so what
depends only on where a file lies is asked once per directory."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from imgaudit.layers.merge import FinalFile


def bytes_by_directory(files: Iterable[FinalFile]) -> dict[str, int]:
    """Bytes of the files directly in each directory (directories of empty files left out)."""
    totals: dict[str, int] = defaultdict(int)
    for path, _kind, size, _layer in files:
        if size:
            totals[path.rpartition("/")[0]] += size
    return totals

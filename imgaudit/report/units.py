"""Sizes and shares as people read them."""

from __future__ import annotations

import humanize


def human_bytes(size: int) -> str:
    """Decimal units, like `docker images` prints: 1.2 GB, 340.5 MB."""
    return str(humanize.naturalsize(size, format="%.1f"))


def percent(part: int, whole: int) -> str:
    if not whole:
        return "0%"
    share = 100 * part / whole
    return f"{share:.1f}%" if share < 10 else f"{share:.0f}%"

"""Work counted, not timed: the calls a piece of code makes (Python functions and C built-ins,
as `sys.setprofile` sees them) do not depend on the machine's speed or its load, so a test
can say how the work grows with its input (linear, not quadratic) without a timed assertion.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any


def calls_made(run: Callable[[], object]) -> int:
    """How many calls `run()` makes on this thread, the ones it makes itself included."""
    count = 0

    def profile(_frame: FrameType, event: str, _arg: Any) -> None:
        nonlocal count
        if event == "call" or event == "c_call":
            count += 1

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(previous)
    return count

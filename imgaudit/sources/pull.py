"""When an engine image is pulled: its own module, so the CLI's options need no Docker SDK."""

from __future__ import annotations

from enum import StrEnum


class PullPolicy(StrEnum):
    ALWAYS = "always"
    MISSING = "missing"
    NEVER = "never"

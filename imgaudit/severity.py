"""How much a finding matters in an image audit. Its own module: the findings catalogue needs
it to build `--help`'s list of ids, which must not load the whole model."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

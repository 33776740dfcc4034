"""Limits as people write them: `300MB`, `1.2GiB`, `512000` (bytes), `5%`, `0.95`.

Decimal units are powers of 1000 and binary units powers of 1024, as `docker images` and
dive read them; a bare number is bytes. Anything else is a `UsageError` naming the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from imgaudit.errors import UsageError

_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_NUMBER = r"(?P<number>\d+(?:\.\d*)?|\.\d+)"
_SIZE = re.compile(rf"^{_NUMBER}\s*(?P<unit>[a-z]*)$", re.IGNORECASE)
_PERCENT = re.compile(rf"^{_NUMBER}\s*%$")
# 2**63 bytes: no image comes near it, and beyond it a float no longer holds the number.
MAX_BYTES = 2**63
MAX_PERCENT = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Size:
    """An absolute number of bytes."""

    bytes: int
    spec: str = field(default="", compare=False)  # as the user wrote it: 300MB

    def of(self, whole: int) -> int:
        """The same bytes whatever the whole: the interface `Percent` shares."""
        del whole
        return self.bytes

    def __str__(self) -> str:
        return self.spec or str(self.bytes)


@dataclass(frozen=True, slots=True)
class Percent:
    """A share of some whole (the image, a category, the baseline), 0-100."""

    value: float

    def of(self, whole: int) -> int:
        """The limit in bytes for this whole; rounded down so the limit never loosens."""
        return int(whole * self.value / 100)

    def __str__(self) -> str:
        return f"{self.value:g}%"


Amount = Size | Percent


def _shown(text: str | int) -> str:
    shown = str(text).strip()
    return repr(shown if len(shown) <= 40 else shown[:20] + "..." + shown[-10:])


def parse_size(text: str | int) -> Size:
    """`300MB`, `1.2GiB`, `512000` -> bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise UsageError(f"invalid size {text}: a size cannot be negative")
        if text > MAX_BYTES:
            raise UsageError(f"invalid size: larger than {MAX_BYTES} bytes")
        return Size(text, str(text))
    match = _SIZE.match(str(text).strip())
    unit = match.group("unit").lower() if match else ""
    if match is None or unit not in _UNITS:
        raise UsageError(
            f"invalid size {str(text)!r}: expected bytes (512000) or a number with a unit "
            "(300MB, 1.2GiB; kB MB GB TB are powers of 1000, KiB MiB GiB TiB of 1024)"
        )
    number = match.group("number")
    if len(number) > 30 or float(number) * _UNITS[unit] > MAX_BYTES:
        raise UsageError(f"invalid size {_shown(text)}: larger than {MAX_BYTES} bytes")
    return Size(int(float(number) * _UNITS[unit]), str(text).strip())


def parse_amount(text: str | int) -> Amount:
    """A size (`300MB`) or a percentage (`5%`)."""
    if isinstance(text, str) and text.strip().endswith("%"):
        match = _PERCENT.match(text.strip())
        if match is None:
            raise UsageError(f"invalid percentage {text!r}: expected a number followed by %, like 5%")
        value = float(match.group("number"))
        if value > MAX_PERCENT:
            raise UsageError(f"invalid percentage {_shown(text)}: larger than {MAX_PERCENT:g}%")
        return Percent(value)
    return parse_size(text)


def parse_ratio(text: str | float) -> float:
    """An efficiency ratio: `0.95` or `95%`, between 0 and 1."""
    raw = text.strip() if isinstance(text, str) else text
    value: float | None = None
    if isinstance(raw, str) and (match := _PERCENT.match(raw)):
        value = float(match.group("number")) / 100
    elif (isinstance(raw, str) and re.fullmatch(_NUMBER, raw)) or isinstance(raw, int | float):
        value = float(raw)
    if value is None or isinstance(raw, bool) or not 0 <= value <= 1:
        raise UsageError(
            f"invalid ratio {str(text)!r}: expected a number between 0 and 1 (0.95) or a percentage (95%)"
        )
    return value

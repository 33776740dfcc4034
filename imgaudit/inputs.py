"""The one hardened reader of structured input: JSON, TOML and text that other people wrote.

Image manifests and configs, registry answers, credential-helper output, Docker's
`config.json`, stored reports, `.imgaudit.toml`, and the `pyproject.toml`/`poetry.lock` found
in an image or a project directory all pass through here. Whatever they hold, reading them
ends in a value or in the caller's `ImgauditError` (one line, exit 2), never in a traceback:

- a size cap, checked before any parsing;
- a nesting-depth cap, checked by a cheap scan *before* the parser runs, because both
  `json` and `tomllib` recurse and 100k nested brackets end in `RecursionError`;
- an integer-length cap: no byte count or version needs more digits, and Python refuses to
  convert more than 4,300 (`ValueError`) while a few hundred already overflow a float;
- text decoded as UTF-8 with an error naming the offset of the first bad byte.

The limits can be raised through the environment (see the README's "Limits"):
`IMGAUDIT_MAX_JSON_BYTES`, `IMGAUDIT_MAX_TOML_BYTES`, `IMGAUDIT_MAX_NESTING`.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import tomllib
from collections.abc import Mapping
from typing import Any, NoReturn

from imgaudit.errors import ImgauditError, UsageError

MAX_JSON_BYTES = 16 * 1024 * 1024  # manifests and configs are KBs; reports a few MB
MAX_TOML_BYTES = 16 * 1024 * 1024  # the largest poetry.lock files are a few MB
MAX_NESTING = 256  # real manifests nest 5 levels, reports 6, lock files 4
MAX_INT_DIGITS = 40  # 10**40 bytes is far beyond any disk; 2**64 has 20 digits

ErrorType = type[ImgauditError]

# Everything that is not a bracket is removed before counting depth, strings first: a
# bracket inside a string opens nothing. A string left open runs to the end of the text (of
# its line, for TOML's one-line strings): the parser stops there, and every pattern matches
# wherever it starts. One that could fail was retried at each later quote, each try running
# to the end: `"\"\"\"...` of 40 KB took 23 s (README: Limits).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\[\s\S][^"\\]*)*(?:"|\\?\Z)')
TOML_SKIPPED = re.compile(
    rb'"""[\s\S]*?(?:"""|\Z)|\'\'\'[\s\S]*?(?:\'\'\'|\Z)'
    rb'|"(?:[^"\\\n]|\\.)*(?:"|\\?(?:\n|\Z))|\'[^\'\n]*(?:\'|\n|\Z)|#[^\n]*'
)
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _DEPTH_STEP)


def limit(name: str, default: int) -> int:
    """A limit, raised or lowered by the environment variable `name` (a positive integer)."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 18 or int(raw) <= 0:
        raise UsageError(f"{name}={raw!r}: expected a positive integer")
    return int(raw)


def nesting_depth(data: bytes, strings: re.Pattern[bytes] = _JSON_STRING) -> int:
    """The deepest bracket nesting outside strings: an upper bound of what the parser recurses."""
    brackets = strings.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(_DEPTH_STEP[b] for b in brackets), default=0)


def _check_shape(
    data: bytes, what: str, where: str, error: ErrorType, cap_name: str, cap: int, strings: re.Pattern[bytes]
) -> None:
    size_cap = limit(cap_name, cap)
    if len(data) > size_cap:
        raise error(f"{what} is larger than {size_cap} bytes (raise it with {cap_name})", where=where)
    depth_cap = limit("IMGAUDIT_MAX_NESTING", MAX_NESTING)
    if nesting_depth(data, strings) > depth_cap:
        raise error(
            f"{what} nests deeper than {depth_cap} levels (raise it with IMGAUDIT_MAX_NESTING)", where=where
        )


def decode_text(data: bytes, what: str, where: str, error: ErrorType) -> str:
    """UTF-8 text (a leading BOM is dropped); other bytes are an error naming the offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(
            f"{what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})", where=where
        ) from None


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _TooLong(len(text.lstrip("-")))
    return int(text)


class _TooLong(ValueError):
    def __init__(self, digits: int) -> None:
        super().__init__(f"an integer of {digits} digits (at most {MAX_INT_DIGITS} are read)")


def load_json(data: bytes | str, what: str, where: str, error: ErrorType) -> Any:
    """Parse JSON within the caps; `what` names the document in the message ("the image config")."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    _check_shape(raw, what, where, error, "IMGAUDIT_MAX_JSON_BYTES", MAX_JSON_BYTES, _JSON_STRING)
    text = decode_text(raw, what, where, error) if isinstance(data, bytes) else data
    try:
        return json.loads(text, parse_int=_bounded_int, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise error(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", where=where
        ) from None
    except ValueError as exc:  # _TooLong, NaN/Infinity
        raise error(f"{what} is not usable JSON: {exc}", where=where) from None
    except RecursionError:  # the depth scan is an upper bound; this only guards a lowered stack
        raise error(f"{what} nests too deeply", where=where) from None


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def load_toml(data: bytes, what: str, where: str, error: ErrorType) -> dict[str, Any]:
    """Parse a TOML document within the caps."""
    _check_shape(data, what, where, error, "IMGAUDIT_MAX_TOML_BYTES", MAX_TOML_BYTES, TOML_SKIPPED)
    text = decode_text(data, what, where, error)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} is not valid TOML: {exc}", where=where) from None
    except ValueError as exc:  # an integer beyond Python's 4,300-digit conversion limit
        raise error(f"{what} is not usable TOML: {str(exc).split(';')[0]}", where=where) from None
    except RecursionError:
        raise error(f"{what} nests too deeply", where=where) from None


def json_object(data: bytes, what: str, where: str, error: ErrorType) -> dict[str, Any]:
    """A JSON document that must be an object."""
    value = load_json(data, what, where, error)
    if not isinstance(value, dict):
        raise error(f"{what} is not a JSON object", where=where)
    return value


class Fields:
    """Typed access to the fields of one parsed object; a wrong type is the caller's error,
    naming the document and the field (`the image config: history should be a list`)."""

    def __init__(self, value: object, what: str, where: str, error: ErrorType) -> None:
        if not isinstance(value, dict):
            raise error(f"{what} should be a JSON object, not {_kind(value)}", where=where)
        self.value: Mapping[str, Any] = value
        self._what, self._where, self._error = what, where, error

    def _bad(self, key: str, expected: str, value: object) -> ImgauditError:
        return self._error(f"{self._what}: {key} should be {expected}, not {_kind(value)}", where=self._where)

    def text(self, key: str) -> str | None:
        """A string field; missing or null is None."""
        value = self.value.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self._bad(key, "a string", value)

    def count(self, key: str) -> int | None:
        """A non-negative integer field (a size); missing or null is None."""
        value = self.value.get(key)
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
            return value
        raise self._bad(key, "a non-negative integer", value)

    def items(self, key: str) -> list[Any]:
        """A list field; missing or null is an empty list."""
        value = self.value.get(key)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        raise self._bad(key, "a list", value)

    def mapping(self, key: str) -> dict[str, Any]:
        """An object field; missing or null is an empty object."""
        value = self.value.get(key)
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        raise self._bad(key, "an object", value)

    def strings(self, key: str) -> dict[str, str]:
        """An object of strings (annotations, labels)."""
        table = self.mapping(key)
        for name, value in table.items():
            if not isinstance(value, str):
                raise self._bad(f"{key}[{name!r}]", "a string", value)
        return table


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else "?"
    )

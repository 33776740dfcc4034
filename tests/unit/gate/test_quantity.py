from __future__ import annotations

import pytest

from imgaudit.errors import UsageError
from imgaudit.gate.quantity import Percent, Size, parse_amount, parse_ratio, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512000", 512_000),
        (512000, 512_000),
        ("300MB", 300_000_000),
        ("300 mb", 300_000_000),
        ("1.2GiB", int(1.2 * 1024**3)),
        ("2KiB", 2048),
        ("3kB", 3000),
        ("0", 0),
        ("10B", 10),
    ],
)
def test_sizes_read_as_people_write_them(text: str | int, expected: int) -> None:
    assert parse_size(text).bytes == expected


@pytest.mark.parametrize("text", ["", "MB", "-5", "3XB", "1e6", "5%", "1,5MB", "1.2.3GB"])
def test_a_malformed_size_is_a_usage_error_naming_it(text: str) -> None:
    with pytest.raises(UsageError, match="invalid size"):
        parse_size(text)


def test_percentages_apply_to_a_whole_rounding_down() -> None:
    amount = parse_amount("5%")
    assert amount == Percent(5.0)
    assert amount.of(1_000) == 50
    assert parse_amount("2.5%").of(999) == 24
    assert parse_amount("300MB").of(1) == 300_000_000
    assert str(parse_amount("300MB")) == "300MB"


def test_size_equality_ignores_how_it_was_written() -> None:
    assert parse_size("1kB") == Size(1000)


@pytest.mark.parametrize("text", ["%", "five%", "5 %%"])
def test_a_malformed_percentage_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_amount(text)


@pytest.mark.parametrize(("text", "expected"), [("0.95", 0.95), ("95%", 0.95), ("1", 1.0), (0.5, 0.5)])
def test_ratios(text: str | float, expected: float) -> None:
    assert parse_ratio(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["1.5", "150%", "x", "-0.1", ""])
def test_a_ratio_outside_zero_to_one_is_refused(text: str) -> None:
    with pytest.raises(UsageError, match="invalid ratio"):
        parse_ratio(text)

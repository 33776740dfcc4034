from __future__ import annotations

from imgaudit.report.github import command, escape_data, escape_property


def test_data_escapes_percent_and_line_breaks_only() -> None:
    assert escape_data("50% of a\r\nb: c, d") == "50%25 of a%0D%0Ab: c, d"


def test_properties_also_escape_the_property_delimiters() -> None:
    assert escape_property("a: b, 5%\n") == "a%3A b%2C 5%25%0A"


def test_a_message_cannot_inject_a_second_command() -> None:
    line = command("error", "size\n::warning::injected", {"title": "t,itle: x"})
    assert line == "::error title=t%2Citle%3A x::size%0A::warning::injected"
    assert "\n" not in line

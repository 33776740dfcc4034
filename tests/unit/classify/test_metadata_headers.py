"""`metadata_headers` reads a METADATA/PKG-INFO header block as `email.parser.HeaderParser`
(the reference here) does, for every field the classification reads."""

from __future__ import annotations

import sys
from email.parser import HeaderParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imgaudit.classify.distributions import metadata_headers

FIELDS = ("Name", "Version", "Requires-Dist", "Provides-Extra")


def reference(text: str) -> dict[str, list[str]]:
    headers = HeaderParser().parsestr(text, headersonly=True)
    return {f.lower(): [str(v) for v in headers.get_all(f) or []] for f in FIELDS}


def ours(text: str) -> dict[str, list[str]]:
    found = metadata_headers(text)
    return {f.lower(): found.get(f.lower(), []) for f in FIELDS}


INSTALLED = sorted(Path(sys.prefix).glob("lib/python3*/site-packages/*.dist-info/METADATA"))


@pytest.mark.parametrize("path", INSTALLED, ids=lambda p: p.parent.name)
def test_the_installed_distributions_read_as_the_email_package_reads_them(path: Path) -> None:
    text = path.read_text("utf-8", "replace")
    assert ours(text) == reference(text)


def test_there_are_installed_distributions_to_compare() -> None:
    assert len(INSTALLED) > 20


@pytest.mark.parametrize(
    "text",
    [
        "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nRequires-Dist: bar>=1\nRequires-Dist: baz ; extra == 'x'\n\nName: body\n",
        "name: Lower\nVERSION:2.0\r\nRequires-Dist: a\r\n  (>=1)\r\n\r\nbody",
        "Name: folded\n\tvalue\nVersion: 1\nnot a header line\nRequires-Dist: never\n",
        " continuation first\nName: x\n",
        "Name:\nVersion: \n",
        "Name: x\x1cy\nVersion: 1\u2028two\nRequires-Dist: q\x0bp\n",
        "Name: cr\rVersion: 3\rRequires-Dist: z\r\rbody",
        "",
        "\nName: after-blank\n",
    ],
)
def test_edge_cases_read_as_the_email_package_reads_them(text: str) -> None:
    assert ours(text) == reference(text)


@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                ["Name: a", "Version: 1", "Requires-Dist: r", " cont", "\tcont", "", "junk", "X-Y: z"]
            ),
            st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12),
        ),
        max_size=12,
    ),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_any_lines_read_as_the_email_package_reads_them(lines: list[str], newline: str) -> None:
    text = newline.join(lines)
    assert ours(text) == reference(text)

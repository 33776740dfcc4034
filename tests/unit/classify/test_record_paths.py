"""RECORD and installed-files.txt lines joined to where they are installed, normalised."""

from __future__ import annotations

import pytest

from imgaudit.classify.distributions import resolve

SITE = "usr/lib/python3/dist-packages"


@pytest.mark.parametrize(
    ("base", "line", "path"),
    [
        (SITE, "yaml/__init__.py", f"{SITE}/yaml/__init__.py"),
        (SITE, "../../../bin/pip", "usr/bin/pip"),
        (SITE, "./yaml/x.py", f"{SITE}/yaml/x.py"),
        (SITE, "yaml/./x.py", f"{SITE}/yaml/x.py"),
        (SITE, "yaml//x.py", f"{SITE}/yaml/x.py"),
        (SITE, "yaml/", f"{SITE}/yaml"),
        (SITE, "yaml/..", SITE),
        (SITE, ".hidden/x", f"{SITE}/.hidden/x"),
        (SITE, "a/.hidden", f"{SITE}/a/.hidden"),
        (SITE, "/etc/x.conf", "etc/x.conf"),
        ("", "x.py", "x.py"),
        ("", "../x.py", None),
        ("", "", None),
        (SITE, "", SITE),
        ("a", "../../x", None),
    ],
)
def test_a_listed_path_is_joined_and_normalised(base: str, line: str, path: str | None) -> None:
    assert resolve(base, line) == path

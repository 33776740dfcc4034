from __future__ import annotations

import pytest

from imgaudit.errors import SourceError
from imgaudit.sources.registry.reference import ImageReference, is_loopback_host, parse_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python", ImageReference("docker.io", "library/python", "latest", None)),
        ("python:3.12-slim", ImageReference("docker.io", "library/python", "3.12-slim", None)),
        ("team/app", ImageReference("docker.io", "team/app", "latest", None)),
        ("docker.io/python:3", ImageReference("docker.io", "library/python", "3", None)),
        ("index.docker.io/team/app:1", ImageReference("docker.io", "team/app", "1", None)),
        ("localhost/app", ImageReference("localhost", "app", "latest", None)),
        ("localhost:5000/a/b:v1", ImageReference("localhost:5000", "a/b", "v1", None)),
        ("ghcr.io/o/p@" + DIGEST, ImageReference("ghcr.io", "o/p", None, DIGEST)),
        ("ghcr.io/o/p:t@" + DIGEST, ImageReference("ghcr.io", "o/p", "t", DIGEST)),
        ("[::1]:5000/app:1", ImageReference("[::1]:5000", "app", "1", None)),
    ],
)
def test_parse(text: str, expected: ImageReference) -> None:
    assert parse_reference(text) == expected


def test_versions_and_hosts() -> None:
    hub = parse_reference("python")
    assert (hub.api_host, hub.version) == ("registry-1.docker.io", "latest")
    pinned = parse_reference("ghcr.io/o/p:t@" + DIGEST)
    assert (pinned.api_host, pinned.version) == ("ghcr.io", DIGEST)
    assert str(pinned) == "ghcr.io/o/p:t@" + DIGEST


@pytest.mark.parametrize("text", ["Upper/Case", "app@sha256:short", "app:bad tag", "a//b", ""])
def test_invalid(text: str) -> None:
    with pytest.raises(SourceError):
        parse_reference(text)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.9.9.9", True),
        ("[::1]:5000", True),
        ("::1", True),
        ("10.0.0.1:5000", False),
        ("localhost.example.com", False),
        ("registry.example.com:443", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback

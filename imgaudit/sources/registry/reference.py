"""`[registry/]repository[:tag][@digest]` as Docker reads it.

The first component is a registry host when it has a `.` or `:` or is `localhost`;
otherwise the image is on Docker Hub, where one-word names live under `library/`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from imgaudit.errors import SourceError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}")


@dataclass(frozen=True, slots=True)
class ImageReference:
    registry: str  # as the user names it: `docker.io`, `localhost:5000`
    repository: str  # `library/python`
    tag: str | None
    digest: str | None

    @property
    def api_host(self) -> str:
        """Where the registry API answers (Docker Hub's API is not at docker.io)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def version(self) -> str:
        """What to ask the manifests endpoint for: the digest wins over the tag."""
        return self.digest or self.tag or "latest"

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.registry)

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def is_loopback_host(registry: str) -> bool:
    """`localhost`, `127.0.0.0/8` and `::1`, with or without a port."""
    host = registry
    if host.startswith("["):
        host = host[1 : host.index("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_registry(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost" or component.startswith("[")


# The distribution spec caps a repository name at 255 characters; a tag adds at most 128,
# a digest 71 (sha256) to 135 (sha512).
MAX_REFERENCE_LENGTH = 255 + 1 + 135


def parse_reference(text: str) -> ImageReference:
    """Parse a reference; SourceError says what is wrong with it."""
    if len(text) > MAX_REFERENCE_LENGTH:
        raise SourceError(
            f"invalid image reference {text[:40]!r}...: longer than {MAX_REFERENCE_LENGTH} characters"
        )
    remainder, digest = text, None
    if "@" in remainder:
        remainder, digest = remainder.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise SourceError(f"invalid digest in image reference {text!r}")
    first, slash, rest = remainder.partition("/")
    if slash and _is_registry(first):
        registry, path = first, rest
    else:
        registry, path = DOCKER_HUB, remainder
    tag = None
    last_slash = path.rfind("/")
    colon = path.rfind(":")
    if colon > last_slash:
        path, tag = path[:colon], path[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise SourceError(f"invalid tag in image reference {text!r}")
    if registry == "index.docker.io":
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not path or not all(_COMPONENT.fullmatch(part) for part in path.split("/")):
        raise SourceError(
            f"invalid image reference {text!r}: repository names are lower-case a-z, 0-9, . _ -"
        )
    if tag is None and digest is None:
        tag = "latest"
    return ImageReference(registry, path, tag, digest)

"""Images in OCI registries, pulled without any daemon."""

from __future__ import annotations

from collections.abc import Callable

from imgaudit.sources.registry.client import RegistryClient
from imgaudit.sources.registry.credentials import Credentials, docker_config_path, from_docker_config
from imgaudit.sources.registry.reference import ImageReference, parse_reference
from imgaudit.sources.registry.source import RegistrySource

__all__ = ["Credentials", "ImageReference", "RegistrySource", "open_registry", "parse_reference"]


def open_registry(
    reference: str,
    *,
    platform: str | None,
    credentials: Credentials | None,
    insecure: bool,
    warn: Callable[[str], None],
) -> RegistrySource:
    """Open `reference` in its registry; credentials default to what `docker login` stored."""
    ref = parse_reference(reference)
    if credentials is None:
        credentials = from_docker_config(ref.registry, docker_config_path())
    client = RegistryClient(ref, credentials, insecure=insecure)
    try:
        return RegistrySource(client, reference, platform, warn)
    except BaseException:
        client.close()
        raise

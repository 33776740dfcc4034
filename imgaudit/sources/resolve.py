"""A reference as the user typed it -> an opened `ImageSource`.

- an existing path: an archive or an image layout;
- `docker://NAME`: the image in the Docker engine (pulled per `--pull`);
- `registry://NAME`: the image in its registry, read over the distribution API;
- a plain `NAME[:TAG|@DIGEST]`: the engine when one answers, else the registry.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imgaudit.errors import SourceError
from imgaudit.sources.archive import open_path
from imgaudit.sources.interface import ImageSource
from imgaudit.sources.pull import PullPolicy

if TYPE_CHECKING:  # the Docker SDK and the registry client load only when an image needs them
    from docker import DockerClient

    from imgaudit.sources.registry import Credentials

ENGINE_SCHEME = "docker://"
REGISTRY_SCHEME = "registry://"


@dataclass(frozen=True, slots=True)
class RemoteOptions:
    """How to reach images that are not files: pull policy, TLS, credentials."""

    pull: PullPolicy = PullPolicy.MISSING
    insecure: bool = False
    credentials: Credentials | None = None


def open_reference(
    reference: str,
    *,
    image: str | None,
    platform: str | None,
    warn: Callable[[str], None],
    remote: RemoteOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImageSource:
    """Open what `reference` names; `progress` hears about an engine image as it streams."""
    remote = remote or RemoteOptions()
    if reference.startswith(ENGINE_SCHEME):
        from imgaudit.sources.daemon import connect_engine, engine_location

        name = reference[len(ENGINE_SCHEME) :]
        client = connect_engine()
        if client is None:
            raise SourceError("no Docker engine answers", where=engine_location())
        return _engine(client, name, platform, remote, warn, progress)
    if reference.startswith(REGISTRY_SCHEME):
        return _registry(reference[len(REGISTRY_SCHEME) :], platform, remote, warn)
    if not reference.strip():
        raise SourceError("an empty image reference names nothing", where="the command line")
    path = Path(reference)
    if _exists(path):
        return open_path(path, image, platform, warn)
    if _looks_like_path(reference):
        raise SourceError("no such archive or image layout", where=reference)
    from imgaudit.sources.daemon import connect_engine
    from imgaudit.sources.registry import parse_reference

    parse_reference(reference)  # a bad name is an error before any engine or network is asked
    client = connect_engine()
    if client is not None:
        return _engine(client, reference, platform, remote, warn, progress)
    return _registry(reference, platform, remote, warn)


def _exists(path: Path) -> bool:
    """Whether a file or directory is there; a name too long to be a path is not one."""
    try:
        return path.exists()
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return False
        raise SourceError(f"cannot look at this path: {exc.strerror}", where=str(path)) from None


def _looks_like_path(reference: str) -> bool:
    """`./x.tar`, `/tmp/img`, `image.tar`: meant as files, never as image names."""
    return reference.startswith((".", "/", "~")) or reference.endswith((".tar", ".tar.gz", ".tgz", ".oci"))


def _engine(
    client: DockerClient,
    name: str,
    platform: str | None,
    remote: RemoteOptions,
    warn: Callable[[str], None],
    progress: Callable[[str], None] | None,
) -> ImageSource:
    from imgaudit.sources.daemon import EngineSource

    try:
        return EngineSource(client, name, platform, remote.pull, remote.credentials, warn, progress)
    except BaseException:
        client.close()
        raise


def _registry(
    name: str, platform: str | None, remote: RemoteOptions, warn: Callable[[str], None]
) -> ImageSource:
    from imgaudit.sources.registry import open_registry

    return open_registry(
        name, platform=platform, credentials=remote.credentials, insecure=remote.insecure, warn=warn
    )

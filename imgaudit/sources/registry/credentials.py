"""Registry credentials: `--username/--password-stdin`, else the Docker CLI's config.

`~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`) names them three ways, looked up
in Docker's order: `credHelpers[registry]` and then `credsStore` run a
`docker-credential-NAME get` helper; `auths[registry].auth` holds base64 `user:password`.
Secrets never leave this module in a message: errors name the helper and the registry only.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgaudit.errors import SourceError
from imgaudit.inputs import decode_text, load_json
from imgaudit.sources.registry.reference import DOCKER_HUB

# Docker keeps Docker Hub's credentials under its v1 index URL.
_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")
_HELPER_TIMEOUT = 30
_HELPER_OUTPUT_CAP = 1024 * 1024  # a helper answers with a few hundred bytes of JSON
_CONFIG_CAP = 4 * 1024 * 1024
_IDENTITY_TOKEN_USER = "<token>"


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str = field(repr=False)  # never printed, even by a debugging repr
    # A refresh token (`docker login` with an identity provider) instead of a password.
    identity_token: bool = False


def docker_config_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    directory = environ.get("DOCKER_CONFIG")
    return Path(directory) / "config.json" if directory else Path.home() / ".docker" / "config.json"


def _host_of(key: str) -> str:
    """`https://host:5000/v1/` and `host:5000` name the same registry."""
    host = key.split("://", 1)[-1]
    return host.split("/", 1)[0]


def _keys_for(registry: str) -> tuple[str, ...]:
    return _HUB_KEYS if registry == DOCKER_HUB else (registry,)


def _lookup(table: Mapping[str, Any], registry: str) -> Any:
    wanted = {_host_of(k) for k in _keys_for(registry)}
    for key, value in table.items():
        if key in _keys_for(registry) or _host_of(str(key)) in wanted:
            return value
    return None


Runner = Callable[[list[str], str], subprocess.CompletedProcess[str]]


def _run(command: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
    """Run a helper; its output is decoded here (as UTF-8, or one line naming the bad byte)."""
    result = subprocess.run(
        command, input=stdin.encode(), capture_output=True, timeout=_HELPER_TIMEOUT, check=False
    )
    where = f"docker-credential output of {Path(command[0]).name}"
    stdout = decode_text(
        result.stdout[:_HELPER_OUTPUT_CAP], "the credential helper's output", where, SourceError
    )
    stderr = result.stderr[:_HELPER_OUTPUT_CAP].decode("utf-8", "replace")
    return subprocess.CompletedProcess(command, result.returncode, stdout, stderr)


def from_helper(helper: str, registry: str, run: Runner = _run) -> Credentials | None:
    """Ask `docker-credential-HELPER get`; None when it holds nothing for this registry."""
    binary = shutil.which(f"docker-credential-{helper}")
    if binary is None:
        raise SourceError(
            f"the Docker config names credential helper {helper!r} but docker-credential-{helper} "
            "is not on PATH",
            where=registry,
        )
    server = _HUB_KEYS[0] if registry == DOCKER_HUB else registry
    try:
        result = run([binary, "get"], server)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SourceError(
            f"credential helper docker-credential-{helper} failed to run", where=registry
        ) from exc
    if result.returncode != 0:
        # Helpers say "credentials not found" on stdout with exit 1: no credentials, not an error.
        if "not found" in (result.stdout + result.stderr).lower():
            return None
        raise SourceError(
            f"credential helper docker-credential-{helper} failed (exit {result.returncode})", where=registry
        )
    try:
        answer = load_json(result.stdout, "the helper's answer", registry, SourceError)
        username, secret = answer["Username"], answer["Secret"]
        if not isinstance(username, str) or not isinstance(secret, str):
            raise TypeError
    except (SourceError, KeyError, TypeError) as exc:
        raise SourceError(
            f"credential helper docker-credential-{helper} gave no credentials", where=registry
        ) from exc
    if not secret:
        return None
    return Credentials(username, secret, identity_token=username == _IDENTITY_TOKEN_USER)


def _from_auths(entry: Any, registry: str) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    if entry.get("identitytoken"):
        return Credentials(_IDENTITY_TOKEN_USER, str(entry["identitytoken"]), identity_token=True)
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(str(entry["auth"]), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise SourceError("the Docker config holds an unreadable auth entry", where=registry) from exc
        username, sep, password = decoded.partition(":")
        if not sep:
            raise SourceError("the Docker config holds an unreadable auth entry", where=registry)
        return Credentials(username, password)
    if entry.get("username") and entry.get("password"):
        return Credentials(str(entry["username"]), str(entry["password"]))
    return None


def from_docker_config(registry: str, path: Path, run: Runner = _run) -> Credentials | None:
    """The credentials `docker login` stored for `registry`, or None."""
    try:
        with path.open("rb") as handle:
            data = handle.read(_CONFIG_CAP + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SourceError(f"cannot read the Docker config: {exc.strerror}", where=str(path)) from exc
    if len(data) > _CONFIG_CAP:
        raise SourceError(f"the Docker config is larger than {_CONFIG_CAP} bytes", where=str(path))
    config = load_json(data, "the Docker config", str(path), SourceError)
    if not isinstance(config, dict):
        return None
    helpers = config.get("credHelpers")
    helper = _lookup(helpers, registry) if isinstance(helpers, dict) else None
    if isinstance(helper, str) and helper:
        return from_helper(helper, registry, run)
    auths = config.get("auths")
    found = _from_auths(_lookup(auths, registry), registry) if isinstance(auths, dict) else None
    if found is not None:
        return found
    store = config.get("credsStore")
    if isinstance(store, str) and store:
        return from_helper(store, registry, run)
    return None

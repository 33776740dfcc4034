"""Real registries (Debian's `docker-registry`) on loopback for integration tests.

Three registries share one storage directory: one without auth (what the engine pushes
to), one behind htpasswd basic auth, one behind token auth. The token service is a small
HTTP server in this process that signs real RS256 JWTs (with `openssl`) which the
registry verifies against the certificate it is configured with: the same flow as Docker
Hub's, end to end. Import the fixtures into a test module to use them.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.integration.conftest import unavailable

__all__ = ["app_image", "basic_registry", "plain_registry", "registry_work", "token_registry"]

REGISTRY_BINARY = "/usr/bin/docker-registry"
USER, PASSWORD = "imgaudit", "correct-horse-battery"
SERVICE, ISSUER = "imgaudit-test-registry", "imgaudit-test-issuer"


@dataclass
class Registry:
    host: str  # 127.0.0.1:PORT
    auth: str  # none, basic, token

    def ref(self, name: str) -> str:
        return f"{self.host}/{name}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _start(work: Path, name: str, storage: Path, auth: dict[str, Any] | None) -> Iterator[Registry]:
    if not Path(REGISTRY_BINARY).is_file():
        unavailable("docker-registry is not installed (apt-get install docker-registry)")
    port = _free_port()
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    if auth:
        config["auth"] = auth
    path = work / f"{name}.yml"
    path.write_text(json.dumps(config))  # YAML is a superset of JSON
    log = (work / f"{name}.log").open("w")
    process = subprocess.Popen([REGISTRY_BINARY, "serve", str(path)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=2).status_code in (200, 401):
                break
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            unavailable(f"docker-registry did not start: see {work}/{name}.log")
        time.sleep(0.2)
    try:
        yield Registry(f"127.0.0.1:{port}", name)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def registry_work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("registry")
    (work / "storage").mkdir()
    return work


@pytest.fixture(scope="session")
def plain_registry(registry_work: Path) -> Iterator[Registry]:
    yield from _start(registry_work, "none", registry_work / "storage", None)


def _htpasswd_line(user: str, password: str) -> str:
    """docker-registry accepts bcrypt entries only."""
    htpasswd = shutil.which("htpasswd")
    if htpasswd:
        result = subprocess.run(
            [htpasswd, "-nbB", user, password], capture_output=True, text=True, check=True
        )
        return result.stdout.strip()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # glibc's crypt does bcrypt; only a fallback when apache2-utils is absent

        return f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}"


@pytest.fixture(scope="session")
def basic_registry(registry_work: Path, plain_registry: Registry) -> Iterator[Registry]:
    htpasswd = registry_work / "htpasswd"
    htpasswd.write_text(_htpasswd_line(USER, PASSWORD) + "\n")
    auth = {"htpasswd": {"realm": "imgaudit-test", "path": str(htpasswd)}}
    yield from _start(registry_work, "basic", registry_work / "storage", auth)


class _TokenIssuer:
    """Signs registry JWTs: RS256 with a self-signed certificate in the `x5c` header."""

    def __init__(self, work: Path) -> None:
        if shutil.which("openssl") is None:
            unavailable("openssl is not installed (needed to sign registry tokens)")
        self.key, self.cert = work / "token.key", work / "token.crt"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=imgaudit-test-token", "-keyout", str(self.key), "-out", str(self.cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        der = subprocess.run(
            ["openssl", "x509", "-in", str(self.cert), "-outform", "DER"], check=True, capture_output=True
        ).stdout
        self.x5c = base64.b64encode(der).decode("ascii")
        self.issued: list[str] = []

    def token(self, subject: str, access: list[dict[str, Any]]) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {
            "iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + 600, "nbf": now - 10,
            "iat": now, "jti": uuid.uuid4().hex, "access": access,
        }  # fmt: skip
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing_input.encode(), check=True, capture_output=True,
        ).stdout  # fmt: skip
        token = f"{signing_input}.{_b64url(signature)}"
        self.issued.append(token)
        return token


def _token_handler(issuer: _TokenIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            header = self.headers.get("Authorization", "")
            subject, access = "", []
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                if (user, password) != (USER, PASSWORD):
                    self._answer(401, {"details": "incorrect username or password"})
                    return
                subject = user
                for scope in query.get("scope", []):
                    kind, name, _actions = scope.split(":")
                    access.append({"type": kind, "name": name, "actions": ["pull"]})
            # Anonymous callers get a token that grants nothing, as public registries do for
            # private repositories: the registry then refuses it.
            self._answer(200, {"token": issuer.token(subject, access), "expires_in": 600})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture(scope="session")
def token_registry(registry_work: Path, plain_registry: Registry) -> Iterator[Registry]:
    issuer = _TokenIssuer(registry_work)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _token_handler(issuer))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    auth = {
        "token": {
            "realm": f"http://127.0.0.1:{server.server_address[1]}/token",
            "service": SERVICE,
            "issuer": ISSUER,
            "rootcertbundle": str(issuer.cert),
        }
    }
    try:
        yield from _start(registry_work, "token", registry_work / "storage", auth)
    finally:
        server.shutdown()
        server.server_close()


def upload(registry: Registry, repository: str, blob: bytes, digest: str) -> None:
    """A monolithic blob upload (POST, then PUT with the digest)."""
    base = f"http://{registry.host}/v2/{repository}/blobs/uploads/"
    started = requests.post(base, timeout=30)
    assert started.status_code == 202, started.text
    location = started.headers["Location"]
    if location.startswith("/"):
        location = f"http://{registry.host}{location}"
    separator = "&" if "?" in location else "?"
    done = requests.put(
        f"{location}{separator}digest={digest}",
        data=blob,
        headers={"Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert done.status_code == 201, done.text


def put_manifest(registry: Registry, repository: str, tag: str, body: bytes, media_type: str) -> None:
    response = requests.put(
        f"http://{registry.host}/v2/{repository}/manifests/{tag}",
        data=body,
        headers={"Content-Type": media_type},
        timeout=30,
    )
    assert response.status_code == 201, response.text


APP_TAG = "imgaudit-test/engine-app:1"
APP_DOCKERFILE = """\
FROM {base}
RUN mkdir -p /app /data && echo hello > /app/main.txt && dd if=/dev/urandom of=/data/blob bs=1024 count=96
RUN dd if=/dev/urandom of=/tmp/scratch bs=1024 count=40 && rm /data/blob
ENV APP_HOME=/app
CMD ["/bin/sh"]
"""


@pytest.fixture(scope="session")
def app_image(docker_engine: Any, busybox_base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A three-layer image FROM the busybox base, with bytes wasted by a later deletion."""
    context = tmp_path_factory.mktemp("engine-app")
    (context / "Dockerfile").write_text(APP_DOCKERFILE.format(base=busybox_base_image))
    docker_engine.build(context, APP_TAG, network_host=False)
    return APP_TAG

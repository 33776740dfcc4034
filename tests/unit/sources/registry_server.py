"""An in-process OCI registry on 127.0.0.1 for unit tests: manifests, blobs, auth, faults.

Loopback only; it implements just what a pull needs (GET manifests and blobs with Range)
plus the two auth schemes registries use, and lets a test inject the failures a client
must survive (429/503, a connection dropped mid-blob) or detect (a corrupted blob).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.imagespec import BuiltImage

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
_PATH = re.compile(r"^/v2/(?P<repo>.+)/(?P<kind>manifests|blobs)/(?P<ref>[^/]+)$")


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class FakeRegistry:
    auth: str | None = None  # None, "basic" or "bearer"
    users: dict[str, str] = field(default_factory=lambda: {"alice": "s3cret-pw"})
    anonymous_pull: bool = False  # bearer: the token service hands anonymous tokens
    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    fail_next: list[int] = field(default_factory=list)  # statuses answered before serving
    drop_blob_after: int | None = None  # bytes sent before the connection drops (once)
    honour_range: bool = True
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    refresh_token: str = "refresh-token-from-an-identity-provider"
    host: str = ""

    def push(self, repository: str, tag: str, image: BuiltImage) -> str:
        self.blobs[image.config_digest] = image.config
        for digest, blob in image.layer_blobs:
            self.blobs[digest] = blob
        self.manifests[(repository, tag)] = (image.manifest, MANIFEST_TYPE)
        self.manifests[(repository, image.manifest_digest)] = (image.manifest, MANIFEST_TYPE)
        return image.manifest_digest

    def push_index(self, repository: str, tag: str, images: Sequence[BuiltImage]) -> str:
        descriptors = []
        for image in images:
            self.push(repository, image.manifest_digest, image)
            platform = {"os": image.spec.os, "architecture": image.spec.architecture}
            if image.spec.variant:
                platform["variant"] = image.spec.variant
            descriptors.append(
                {
                    "mediaType": MANIFEST_TYPE,
                    "digest": image.manifest_digest,
                    "size": len(image.manifest),
                    "platform": platform,
                }
            )
        index = json.dumps({"schemaVersion": 2, "mediaType": INDEX_TYPE, "manifests": descriptors}).encode()
        self.manifests[(repository, tag)] = (index, INDEX_TYPE)
        self.manifests[(repository, sha256(index))] = (index, INDEX_TYPE)
        return sha256(index)


def _handler(registry: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
            body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
            self._send(status, body, {"Content-Type": "application/json", **(headers or {})})

        def _basic_user(self) -> str | None:
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return None
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return user if registry.users.get(user) == password else None

        def _authorized(self, repository: str) -> bool:
            if registry.auth is None:
                return True
            if registry.auth == "basic":
                if self._basic_user():
                    return True
                self._error(
                    401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": 'Basic realm="fake"'}
                )
                return False
            header = self.headers.get("Authorization", "")
            if header.startswith("Bearer ") and header[7:] in registry.tokens:
                return True
            challenge = (
                f'Bearer realm="http://{registry.host}/token",service="fake",'
                f'scope="repository:{repository}:pull"'
            )
            self._error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})
            return False

        def do_GET(self) -> None:
            registry.log.append((self.path, dict(self.headers)))
            if registry.fail_next:
                self._error(registry.fail_next.pop(0), "UNAVAILABLE", "try again", {"Retry-After": "0"})
                return
            url = urlsplit(self.path)
            if url.path == "/token":
                self._token(parse_qs(url.query))
                return
            match = _PATH.match(url.path)
            if not match:
                self._error(404, "NOT_FOUND", "no such endpoint")
                return
            repository, kind, ref = match["repo"], match["kind"], match["ref"]
            if not self._authorized(repository):
                return
            if kind == "manifests":
                found = registry.manifests.get((repository, ref))
                if found is None:
                    self._error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                    return
                body, media_type = found
                self._send(200, body, {"Content-Type": media_type, "Docker-Content-Digest": sha256(body)})
                return
            self._blob(ref)

        def _token(self, query: dict[str, list[str]]) -> None:
            user = self._basic_user()
            if self.headers.get("Authorization") and user is None:
                self._send(401, b'{"details":"incorrect username or password"}')
                return
            if user is None and not registry.anonymous_pull:
                self._send(401, b'{"details":"anonymous access denied"}')
                return
            token = secrets.token_hex(16)
            registry.tokens.add(token)
            self._send(200, json.dumps({"token": token, "scope": query.get("scope")}).encode())

        def do_POST(self) -> None:
            """OAuth2 refresh-token grant: what `docker login` with an identity token uses."""
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode())
            registry.log.append((self.path, dict(self.headers)))
            if urlsplit(self.path).path != "/token" or form.get("grant_type") != ["refresh_token"]:
                self._error(404, "NOT_FOUND", "no such endpoint")
                return
            if form.get("refresh_token") != [registry.refresh_token]:
                self._send(401, b'{"details":"invalid refresh token"}')
                return
            token = secrets.token_hex(16)
            registry.tokens.add(token)
            self._send(200, json.dumps({"access_token": token}).encode())

        def _blob(self, digest: str) -> None:
            data = registry.blobs.get(digest)
            if data is None:
                self._error(404, "BLOB_UNKNOWN", "blob unknown")
                return
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            status = 200
            if match and registry.honour_range:
                start, status = int(match[1]), 206
            body = data[start:]
            if registry.drop_blob_after is not None and len(body) > registry.drop_blob_after:
                cut, registry.drop_blob_after = registry.drop_blob_after, None
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self._send(status, body, {"Content-Type": "application/octet-stream"})

    return Handler


class _QuietServer(ThreadingHTTPServer):
    """socketserver prints a traceback to stderr when a client hangs up mid-answer (the HTTPS
    probe of a plain-HTTP loopback registry does); in a test that reads the CLI's stderr, that
    thread's print would land in the captured output at random."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@contextmanager
def serve(registry: FakeRegistry) -> Iterator[FakeRegistry]:
    server = _QuietServer(("127.0.0.1", 0), _handler(registry))
    server.daemon_threads = True
    registry.host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        server.shutdown()
        server.server_close()

"""A loopback HTTP server that answers registry requests the way a broken or hostile
registry does: a Content-Length that lies, a redirect to ftp://, silence, a trickle, a
token answer that never ends, a manifest of the wrong shape.

Each behaviour is a small function of the request handler, chosen by the repository name
in the path (`/v2/<behaviour>/manifests/<tag>`), so one server serves every case.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = Callable[[BaseHTTPRequestHandler, str], None]
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def _answer(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]) -> None:
    handler.send_response(status)
    for key, value in headers.items():
        handler.send_header(key, value)
    if "Content-Length" not in headers:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def lying_length(handler: BaseHTTPRequestHandler, host: str) -> None:
    """Promises 5000 bytes, sends 20 and hangs up."""
    _answer(handler, 200, b'{"schemaVersion": 2,', {"Content-Length": "5000", "Content-Type": MANIFEST_TYPE})
    handler.close_connection = True


def ftp_redirect(handler: BaseHTTPRequestHandler, host: str) -> None:
    _answer(handler, 302, b"", {"Location": "ftp://127.0.0.1/manifest"})


def silent(handler: BaseHTTPRequestHandler, host: str) -> None:
    time.sleep(30)  # never answers within the client's read timeout


def trickle(handler: BaseHTTPRequestHandler, host: str) -> None:
    """Headers at once, then one byte every 0.2 s: no single read ever times out."""
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.send_header("Content-Type", MANIFEST_TYPE)
    handler.end_headers()
    for _ in range(300):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.2)


def endless_token(handler: BaseHTTPRequestHandler, host: str) -> None:
    """401 naming a token service whose answer goes on for 64 MiB."""
    if handler.path.startswith("/token"):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(64 * 1024 * 1024))
        handler.end_headers()
        handler.wfile.write(b'{"token": "')
        chunk = b"a" * (1024 * 1024)
        for _ in range(64):
            handler.wfile.write(chunk)
        return
    realm = f"http://{host}/token"
    _answer(handler, 401, b"", {"WWW-Authenticate": f'Bearer realm="{realm}",service="test"'})


def deep_manifest(handler: BaseHTTPRequestHandler, host: str) -> None:
    _answer(handler, 200, b"[" * 100_000, {"Content-Type": MANIFEST_TYPE})


def long_integer_manifest(handler: BaseHTTPRequestHandler, host: str) -> None:
    body = b'{"schemaVersion": 2, "config": {"size": 1' + b"0" * 5000 + b"}}"
    _answer(handler, 200, body, {"Content-Type": MANIFEST_TYPE})


def platform_string_index(handler: BaseHTTPRequestHandler, host: str) -> None:
    digest = "sha256:" + "a" * 64
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX_TYPE,
        "manifests": [{"mediaType": MANIFEST_TYPE, "digest": digest, "size": 10, "platform": "linux/amd64"}],
    }
    _answer(handler, 200, json.dumps(index).encode(), {"Content-Type": INDEX_TYPE})


def annotations_list_manifest(handler: BaseHTTPRequestHandler, host: str) -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + "b" * 64},
        "layers": [],
        "annotations": ["org.opencontainers.image.title"],
    }
    _answer(handler, 200, json.dumps(manifest).encode(), {"Content-Type": MANIFEST_TYPE})


def helm_chart(handler: BaseHTTPRequestHandler, host: str) -> None:
    """What `helm push` stores: a manifest whose config is Helm's, not an image config."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": "sha256:" + "c" * 64},
        "layers": [
            {
                "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                "digest": "sha256:" + "d" * 64,
            }
        ],
    }
    _answer(handler, 200, json.dumps(manifest).encode(), {"Content-Type": MANIFEST_TYPE})


def trickle_blob(handler: BaseHTTPRequestHandler, host: str) -> None:
    """A layer blob that arrives one byte every 0.2 s: each read succeeds, the whole never ends."""
    trickle(handler, host)


BEHAVIOURS: dict[str, Behaviour] = {
    "trickle-blob": trickle_blob,
    "helm-chart": helm_chart,
    "lying-length": lying_length,
    "ftp-redirect": ftp_redirect,
    "silent": silent,
    "trickle": trickle,
    "endless-token": endless_token,
    "deep-manifest": deep_manifest,
    "long-integer": long_integer_manifest,
    "platform-string": platform_string_index,
    "annotations-list": annotations_list_manifest,
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    host = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/v2/" or self.path.startswith("/v2/?"):
            _answer(self, 200, b"{}", {})
            return
        if self.path.startswith("/token"):
            BEHAVIOURS["endless-token"](self, self.host)
            return
        parts = self.path.split("/")
        behaviour = BEHAVIOURS.get(parts[2] if len(parts) > 2 else "")
        if behaviour is None:
            _answer(self, 404, b"{}", {})
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            behaviour(self, self.host)  # the client giving up is the point


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-answer is the point of these tests


@contextmanager
def hostile_registry() -> Iterator[str]:
    """The `host:port` of a running hostile registry."""
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    host = f"127.0.0.1:{server.server_address[1]}"
    _Handler.host = host
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield host
    finally:
        server.shutdown()
        server.server_close()

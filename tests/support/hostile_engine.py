"""A fake Docker engine on a unix socket that answers with whatever a test gives it.

The real SDK talks to it over the real transport (`DOCKER_HOST=unix://...`), so the test
proves what a user would see from a broken or hostile engine: every answer imgaudit reads
(inspect, the image list, a pull's progress stream) goes through its capped reader.
"""

from __future__ import annotations

import contextlib
import socketserver
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

# path suffix (after the API version) -> (status, body); a body may be streamed in chunks.
Answers = Mapping[str, tuple[int, bytes]]
_ALWAYS: dict[str, tuple[int, bytes]] = {
    "/_ping": (200, b"OK"),
    "/version": (200, b'{"ApiVersion": "1.43", "Version": "24.0.0", "MinAPIVersion": "1.12"}'),
}


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    answers: Answers


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: object) -> None:  # the test's stderr stays the CLI's
        pass

    def _answer(self) -> None:
        path = self.path.split("?")[0]
        if path.startswith("/v1."):
            path = "/" + path.split("/", 2)[2]
        status, body = (
            self.server.answers.get(path) or _ALWAYS.get(path) or (404, b'{"message": "No such image"}')
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client stopped at its cap
            self.wfile.write(body)

    def address_string(self) -> str:
        return "engine-client"

    do_GET = _answer
    do_POST = _answer
    do_HEAD = _answer


@contextmanager
def hostile_engine(socket_path: Path, answers: Answers) -> Iterator[str]:
    """Serve `answers` on `socket_path`; yields the DOCKER_HOST value."""
    server = _Server(str(socket_path), _Handler)
    server.answers = answers
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{socket_path}"
    finally:
        server.shutdown()
        server.server_close()
        socket_path.unlink(missing_ok=True)

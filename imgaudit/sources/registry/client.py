"""A small client for the OCI distribution API: manifests and blobs of one repository.

Why not a library (evaluated): `oras` (oras-py) is an SDK for pushing and pulling OCI
artifacts; its pull writes blobs to files, which imgaudit must never do, and it reads only
the `auths` of the Docker config. `python-dxf` streams and digest-checks blobs, but takes
credentials as arguments only (no `credsStore`/`credHelpers`), has no platform selection,
and cannot resume a dropped blob. Either would leave most of this module to write anyway,
so it is a small client on `requests` (already installed with the `docker` SDK).

What it does: Bearer challenges (`WWW-Authenticate`, Docker Hub style, anonymous or with
credentials) and Basic auth; HTTPS, or plain HTTP for loopback registries only; retries
with backoff on 429, 5xx and dropped connections, resuming a blob where it stopped.
Tokens and passwords live in request headers only, never in a message or an exception.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from imgaudit.errors import LayerError, SourceError
from imgaudit.inputs import limit, load_json
from imgaudit.sources.manifests import IMAGE_CONFIG_TYPES, manifest_document
from imgaudit.sources.registry.credentials import Credentials
from imgaudit.sources.registry.reference import ImageReference, is_loopback_host

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0  # one socket read; a stalled blob is resumed, RESUMES times at most
ATTEMPTS = 5
RESUMES = 3
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 20.0  # also the longest Retry-After honoured
# Whole-answer deadlines: a server that trickles a byte every few seconds never trips the
# read timeout. Raised through the environment for slow links (README "Limits").
REQUEST_DEADLINE = 60  # a manifest or a token, seconds
BLOB_DEADLINE = 1800  # one layer blob, seconds, resumes included
TOKEN_CAP = 1024 * 1024  # tokens are a few KB
_CHUNK = 64 * 1024
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_DROPPED = (
    requests.ConnectionError,
    requests.Timeout,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ReadTimeoutError,
)

Sleep = Callable[[float], None]


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="...",service="...",scope="..."` -> ("bearer", {realm, service, scope})."""
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(params))


def read_capped(response: requests.Response, cap: int, what: str, where: str) -> bytes:
    """A whole (small) answer body, within `cap` bytes and the request deadline; a body
    shorter than its Content-Length, or one that trickles past the deadline, is an error."""
    deadline = time.monotonic() + limit("IMGAUDIT_REQUEST_DEADLINE", REQUEST_DEADLINE)
    chunks: list[bytes] = []
    total = 0
    try:
        while total <= cap:
            if time.monotonic() > deadline:
                raise SourceError(f"{what} took longer than the request deadline", where=where)
            # read1: what one socket read brings, so that a trickle still meets the deadline
            chunk = response.raw.read1(min(_CHUNK, cap + 1 - total), decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except _DROPPED as exc:
        raise SourceError(
            f"{what} was cut short by the registry ({type(exc).__name__})", where=where
        ) from None
    if total > cap:
        raise SourceError(f"{what} is larger than {cap} bytes", where=where)
    return b"".join(chunks)


def _registry_message(response: requests.Response, where: str) -> str:
    """The registry's own error code and message (`MANIFEST_UNKNOWN: ...`), when it sent one."""
    try:
        errors = load_json(
            read_capped(response, 64 * 1024, "an error", where), "an error", where, SourceError
        )
        first = errors.get("errors")[0]
        return f"{first.get('code', '')}: {first.get('message', '')}".strip(": ")
    except (SourceError, AttributeError, IndexError, TypeError, KeyError):
        return ""


class RegistryClient:
    """Talks to the registry of one image reference, for pulling."""

    def __init__(
        self,
        reference: ImageReference,
        credentials: Credentials | None = None,
        *,
        insecure: bool = False,
        session: requests.Session | None = None,
        sleep: Sleep = time.sleep,
        attempts: int = ATTEMPTS,
    ) -> None:
        self.reference = reference
        self._credentials = credentials
        self._insecure = insecure
        self._session = session or requests.Session()
        self._session.trust_env = False  # no proxies or netrc credentials from the environment
        self._sleep = sleep
        self._attempts = attempts
        self._authorization: str | None = None
        # Plain HTTP only ever for loopback registries; HTTPS is tried first there too.
        self._schemes = ["https", "http"] if is_loopback_host(reference.registry) else ["https"]

    @property
    def where(self) -> str:
        return self.reference.registry

    def close(self) -> None:
        self._session.close()

    # -- requests with retries, scheme fallback and auth ---------------------------------

    def _url(self, path: str) -> str:
        return f"{self._schemes[0]}://{self.reference.api_host}/v2/{self.reference.repository}/{path}"

    def _send(
        self, method: str, url: str, headers: Mapping[str, str], stream: bool = False, **extra: Any
    ) -> requests.Response:
        """One request, retried on dropped connections, 429 and 5xx with exponential backoff.

        Raises _Unanswered when no HTTP answer came at all (TLS failed, connection refused).
        """
        # Probing HTTPS on a loopback registry that may speak plain HTTP: one try is enough.
        attempts = 1 if len(self._schemes) > 1 else self._attempts
        delay = BACKOFF_FIRST
        # Retries stop at the request deadline too: five silent attempts would take minutes.
        deadline = time.monotonic() + limit("IMGAUDIT_REQUEST_DEADLINE", REQUEST_DEADLINE)
        read_timeout = limit("IMGAUDIT_READ_TIMEOUT", int(READ_TIMEOUT))
        last_answer: requests.Response | None = None
        failure = "cannot reach the registry"
        for attempt in range(1, attempts + 1):
            if attempt > 1 and time.monotonic() + delay > deadline:
                break  # no time for another try: the last failure or answer stands
            try:
                response = self._session.request(
                    method,
                    url,
                    headers=dict(headers),
                    stream=stream,
                    timeout=(CONNECT_TIMEOUT, read_timeout),
                    verify=not self._insecure,
                    allow_redirects=True,
                    **extra,
                )
            except requests.exceptions.SSLError as exc:
                raise _Unanswered(
                    "TLS with the registry failed; for a self-signed certificate use --insecure"
                ) from exc
            except (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL) as exc:
                raise SourceError(
                    f"the registry sent a URL imgaudit cannot follow ({type(exc).__name__})", where=self.where
                ) from None
            except requests.exceptions.TooManyRedirects:
                raise SourceError("the registry redirects in a loop", where=self.where) from None
            except _DROPPED as exc:
                failure = f"cannot reach the registry ({type(exc).__name__}) after {attempt} attempt(s)"
                if attempt == attempts:
                    raise _Unanswered(failure) from exc
                self._sleep(delay)
                delay = min(delay * 2, BACKOFF_CAP)
                continue
            last_answer = response
            if response.status_code not in _RETRY_STATUS or attempt == attempts:
                return response
            response.close()
            delay = self._retry_after(response, delay)
            if time.monotonic() + delay > deadline:
                return response  # the registry's "later" is past the deadline: its answer stands
            self._sleep(delay)
            delay = min(delay * 2, BACKOFF_CAP)
        if last_answer is not None:
            return last_answer
        raise _Unanswered(failure)

    @staticmethod
    def _retry_after(response: requests.Response, default: float) -> float:
        value = response.headers.get("Retry-After", "")
        return min(float(value), BACKOFF_CAP) if value.isdigit() else default

    def request(
        self, path: str, headers: Mapping[str, str] | None = None, stream: bool = False
    ) -> requests.Response:
        """GET a repository path, answering one auth challenge; 401/403 become SourceError."""
        wanted = dict(headers or {})
        while True:
            try:
                response = self._get_authorized(path, wanted, stream)
            except _Unanswered as failure:
                if len(self._schemes) > 1:
                    self._schemes.pop(0)  # a loopback registry without TLS: plain HTTP next
                    continue
                raise SourceError(str(failure), where=self.where) from failure.__cause__
            del self._schemes[1:]  # this scheme answered: stick to it
            return response

    def _get_authorized(self, path: str, headers: dict[str, str], stream: bool) -> requests.Response:
        response = self._send("GET", self._url(path), self._with_auth(headers), stream)
        if response.status_code == 401:
            challenge = response.headers.get("WWW-Authenticate", "")
            response.close()
            self._authenticate(challenge)
            response = self._send("GET", self._url(path), self._with_auth(headers), stream)
            if response.status_code == 401:
                response.close()
                raise self._denied()
        if response.status_code == 403:
            response.close()
            raise SourceError(
                f"access to {self.reference.repository} is denied for these credentials", where=self.where
            )
        return response

    def _with_auth(self, headers: dict[str, str]) -> dict[str, str]:
        return {**headers, "Authorization": self._authorization} if self._authorization else headers

    def _denied(self) -> SourceError:
        if self._credentials is None:
            return SourceError(
                "the registry requires authentication: use --username with --password-stdin, "
                "or `docker login`",
                where=self.where,
            )
        return SourceError(
            f"authentication failed: the registry refused the credentials of {self._credentials.username!r}",
            where=self.where,
        )

    def _authenticate(self, challenge: str) -> None:
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if self._credentials is None or self._credentials.identity_token:
                raise self._denied()
            self._authorization = _basic(self._credentials)
            return
        if scheme != "bearer" or "realm" not in params:
            raise SourceError(
                f"the registry asks for an unsupported authentication: {scheme or 'none'}", where=self.where
            )
        self._authorization = "Bearer " + self._token(params)

    def _token(self, params: dict[str, str]) -> str:
        realm = params["realm"]
        realm_host = urlsplit(realm).netloc
        if not realm.startswith("https://") and not is_loopback_host(realm_host):
            raise SourceError("the registry's token service is not HTTPS; refusing it", where=self.where)
        query = {k: v for k, v in params.items() if k in ("service", "scope")}
        query.setdefault("scope", f"repository:{self.reference.repository}:pull")
        credentials = self._credentials
        try:
            if credentials is not None and credentials.identity_token:
                form = {
                    **query,
                    "grant_type": "refresh_token",
                    "refresh_token": credentials.password,
                    "client_id": "imgaudit",
                }
                response = self._send("POST", realm, {}, stream=True, data=form)
            else:
                auth = (credentials.username, credentials.password) if credentials else None
                response = self._send("GET", realm, {}, stream=True, params=query, auth=auth)
        except _Unanswered as failure:
            raise SourceError(f"token service: {failure}", where=self.where) from failure.__cause__
        if response.status_code in (401, 403):
            raise self._denied()
        if response.status_code != 200:
            raise SourceError(
                f"the registry's token service answered HTTP {response.status_code}", where=self.where
            )
        with response:
            data = read_capped(response, TOKEN_CAP, "the token service's answer", self.where)
        try:
            body = load_json(data, "the token service's answer", self.where, SourceError)
            token = body.get("token") or body.get("access_token")
        except (SourceError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise SourceError("the registry's token service sent no token", where=self.where)
        return token

    # -- the two things a pull needs -------------------------------------------------------

    def get_manifest(self, version: str, accept: str, cap: int) -> tuple[bytes, str]:
        """The manifest bytes and media type of a tag or digest."""
        response = self.request(f"manifests/{version}", {"Accept": accept}, stream=True)
        with response:
            if response.status_code == 404:
                detail = _registry_message(response, self.where)
                raise SourceError(
                    f"{self.reference.repository}:{version} is not in the registry"
                    + (f" ({detail})" if detail else ""),
                    where=self.where,
                )
            if response.status_code != 200:
                raise SourceError(
                    f"the registry answered HTTP {response.status_code} for the manifest of "
                    f"{self.reference.repository}:{version}",
                    where=self.where,
                )
            data = read_capped(response, cap, "the manifest", self.where)
        media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return data, media_type

    def open_blob(self, digest: str, size: int | None) -> VerifiedBlob:
        """A stream of the blob as stored, checked against `digest` and `size` at its end."""
        return VerifiedBlob(self, digest, size)

    def read_blob(self, digest: str, size: int | None, cap: int) -> bytes:
        if size is not None and size > cap:
            raise SourceError(f"blob {digest} is larger than {cap} bytes", where=self.where)
        with self.open_blob(digest, size) as blob:
            data = io.BufferedReader(blob).read(cap + 1)  # a raw read may return a short chunk
            if len(data) > cap:
                raise SourceError(f"blob {digest} is larger than {cap} bytes", where=self.where)
            blob.finish()
        return data

    def blob_response(self, digest: str, offset: int) -> requests.Response:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self.request(f"blobs/{digest}", headers, stream=True)
        if response.status_code == 404:
            response.close()
            raise LayerError(f"blob {digest} is not in the registry", where=self.where)
        if response.status_code not in (200, 206):
            status = response.status_code
            response.close()
            raise LayerError(f"the registry answered HTTP {status} for blob {digest}", where=self.where)
        return response


class _Unanswered(Exception):
    """No HTTP answer at all: for a loopback registry probed over HTTPS, the cue to try HTTP."""


def _basic(credentials: Credentials) -> str:
    token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode("ascii")
    return f"Basic {token}"


class VerifiedBlob(io.RawIOBase):
    """A blob streamed from the registry and hashed as it is read.

    At the end of the stream the digest and the size must match the manifest's, else
    LayerError: the walk drains every layer to EOF, so no layer is analysed unverified.
    A dropped connection is resumed with a Range request where it stopped.
    """

    def __init__(self, client: RegistryClient, digest: str, size: int | None) -> None:
        algorithm, _, expected = digest.partition(":")
        if algorithm not in ("sha256", "sha512"):
            raise LayerError(f"unsupported digest algorithm in {digest}", where=client.where)
        self._client = client
        self._digest = digest
        self._expected = expected
        self._size = size
        self._hash = hashlib.new(algorithm)
        self._count = 0
        self._resumes = 0
        self._done = False
        self._deadline_seconds = limit("IMGAUDIT_BLOB_DEADLINE", BLOB_DEADLINE)
        self._deadline = time.monotonic() + self._deadline_seconds
        self._response: requests.Response | None = client.blob_response(digest, 0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._done:
            return 0
        while True:
            try:
                data = self._read_some(len(buffer))
                break
            except _DROPPED as exc:
                self._resume(exc)
        if not data:
            self._verify()
            return 0
        self._count += len(data)
        if self._size is not None and self._count > self._size:
            raise LayerError(f"blob {self._digest} is longer than the manifest's {self._size} bytes")
        self._hash.update(data)
        buffer[: len(data)] = data
        return len(data)

    def _read_some(self, want: int) -> bytes:
        assert self._response is not None
        if time.monotonic() > self._deadline:
            raise LayerError(
                f"blob {self._digest} took longer than {self._deadline_seconds} s "
                "(raise it with IMGAUDIT_BLOB_DEADLINE)",
                where=self._client.where,
            )
        data: bytes = self._response.raw.read1(want, decode_content=False)
        return data

    def _resume(self, exc: BaseException) -> None:
        if self._response is not None:
            self._response.close()
        self._resumes += 1
        if self._resumes > RESUMES:
            raise LayerError(
                f"blob {self._digest}: the connection dropped {self._resumes} times ({type(exc).__name__})",
                where=self._client.where,
            ) from exc
        response = self._client.blob_response(self._digest, self._count)
        if response.status_code == 200:  # the registry ignored Range: skip what was read
            remaining = self._count
            while remaining:
                skipped = response.raw.read(min(remaining, 1 << 20), decode_content=False)
                if not skipped:
                    break
                remaining -= len(skipped)
        self._response = response

    def _verify(self) -> None:
        self._done = True
        if self._size is not None and self._count != self._size:
            raise LayerError(
                f"blob {self._digest} ended after {self._count} of {self._size} bytes",
                where=self._client.where,
            )
        if self._hash.hexdigest() != self._expected:
            raise LayerError(
                f"blob {self._digest} does not match its digest: the registry sent different bytes",
                where=self._client.where,
            )

    def finish(self) -> None:
        """Read whatever the consumer left and check the digest: a blob is verified whole."""
        while not self._done:
            if not self.read(1 << 20):
                break

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
        super().close()


def json_object(data: bytes, what: str, where: str) -> dict[str, Any]:
    """A registry manifest or index, its field types checked; an artifact is refused by name."""
    value = manifest_document(data, what, where)
    config = value.get("config")
    config_type = config.get("mediaType") if isinstance(config, dict) else None
    if config_type and config_type not in IMAGE_CONFIG_TYPES:
        raise SourceError(
            f"this is an OCI artifact ({config_type}), not an image: it has no filesystem to audit",
            where=where,
        )
    return value

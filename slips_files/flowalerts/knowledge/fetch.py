"""One bounded HTTP(S) GET, with the standard library only.

Used by the feed refresh (``flowalerts update-feeds``) and the RDAP lookups.
Bounded three ways, whatever the server does:

* **total time**: the whole exchange (connect, TLS, headers, body, redirects)
  must finish within ``timeout`` seconds. A server that drips one byte a
  second never ends a read with a per-read timeout; here the request runs in
  a daemon thread that the caller waits for at most ``timeout``, and at the
  deadline its socket is shut down so the thread ends too;
* **size**: more than ``max_bytes`` of body (announced or received) is an
  error, and no more than that is ever kept;
* **redirects**: at most ``max_redirects``, to http/https only.

Errors are ``FetchError`` with a one-line reason (URLs in it are redacted).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import urllib.parse
from typing import Any

from flowalerts.core.urls import redact_url

USER_AGENT = "flowalerts"
_REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(Exception):
    """A download that failed, timed out or was too large (message for the user)."""


class _Request:
    def __init__(self, url: str, timeout: float, max_bytes: int, max_redirects: int, headers: dict[str, str]) -> None:
        self.url = url
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **headers}
        self.data: bytes | None = None
        self.error: BaseException | None = None
        self.aborted = False
        self._lock = threading.Lock()
        self._connection: http.client.HTTPConnection | None = None

    def run(self) -> None:
        try:
            self.data = self._get()
        except BaseException as exc:  # reported to the caller's thread
            self.error = exc
        finally:
            self._close()

    def abort(self) -> None:
        """Called at the deadline from the caller's thread: end the blocked read."""
        with self._lock:
            self.aborted = True
            connection = self._connection
        if connection is not None and connection.sock is not None:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _close(self) -> None:
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _connect(self, parts: urllib.parse.SplitResult) -> http.client.HTTPConnection:
        host = parts.hostname or ""
        if parts.scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, parts.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(host, parts.port, timeout=self.timeout)
        with self._lock:
            if self.aborted:
                raise FetchError("aborted")
            self._connection = connection
        return connection

    def _get(self) -> bytes:
        url = self.url
        for _ in range(self.max_redirects + 1):
            parts = urllib.parse.urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError(f"unsupported URL {redact_url(url)} (http:// or https:// only)")
            connection = self._connect(parts)
            target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
            connection.request("GET", target, headers=self.headers)
            response = connection.getresponse()
            if response.status in _REDIRECTS:
                location = response.getheader("Location")
                self._close()
                if not location:
                    raise FetchError(f"HTTP {response.status} without a Location")
                url = urllib.parse.urljoin(url, location)
                continue
            if response.status != 200:
                raise FetchError(f"HTTP {response.status} {response.reason}".strip())
            return self._body(response)
        raise FetchError(f"more than {self.max_redirects} redirects")

    def _body(self, response: http.client.HTTPResponse) -> bytes:
        announced = response.getheader("Content-Length")
        if announced and announced.strip().isdigit() and int(announced) > self.max_bytes:
            raise FetchError(f"the server announces {int(announced):,} bytes, more than the limit of {self.max_bytes:,}")
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = response.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"more than the limit of {self.max_bytes:,} bytes")
            chunks.append(chunk)
        if self.aborted:
            raise FetchError("aborted")
        return b"".join(chunks)


def fetch(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    max_redirects: int = 3,
    headers: dict[str, str] | None = None,
) -> bytes:
    """The body of ``url`` (HTTP 200), within ``timeout`` seconds in total and ``max_bytes``."""
    request = _Request(url, timeout, max_bytes, max_redirects, headers or {})
    thread = threading.Thread(target=request.run, name="flowalerts-fetch", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        request.abort()
        raise FetchError(f"no complete answer within {timeout:g} s (total time limit)")
    error = request.error
    if error is not None:
        if isinstance(error, FetchError):
            raise error
        if isinstance(error, (OSError, http.client.HTTPException, ValueError)):
            raise FetchError(_describe(error)) from None
        raise error
    assert request.data is not None
    return request.data


def _describe(exc: Any) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return redact_url(str(text))

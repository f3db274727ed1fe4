"""The agent's small local HTTP servers (queue-system hook, status page): http.server with
TCP_NODELAY on accepted sockets, daemon handler threads, bounded reads, one-line logging
through `logging`, and a start/stop that really stops (open keep-alive connections included).

No policy here: routes, tokens and counting belong to the servers built on it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_LISTEN = re.compile(r"([^:\s]+):(\d{1,5})")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")
_DIGIT_RUN = re.compile(r"\d{6,}[0-9Xx]*")


class BodyError(Exception):
    """A request body that cannot be read: the status to answer and why."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason  # short key, counted by the caller


def parse_listen(listen: str) -> tuple[str, int]:
    """HOST:PORT (port 0 = any free port) -> (host, port); ValueError naming the value."""
    m = _LISTEN.fullmatch(listen)
    if m is None or int(m.group(2)) > 65535:
        raise ValueError(f"listen address must be HOST:PORT like 127.0.0.1:8480, got {listen!r}")
    return m.group(1), int(m.group(2))


def scrub(text: str) -> str:
    """Text for a log line with any run of 6+ digits masked: whatever a client puts where
    (an ID number in a path or in the counter field, say), no ID number reaches the log."""
    return _DIGIT_RUN.sub("<digits>", text)


def loggable_path(raw: str) -> str:
    """The request's path for a log line: no query string, no control characters, no ID
    number (scrub), at most 80 characters."""
    path = urlsplit(raw).path if raw else ""
    return scrub(_UNPRINTABLE.sub("?", path))[:80]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64  # the default 5 drops bursts of connections (a 1 s SYN retry)

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 logger: logging.Logger, read_timeout_s: float) -> None:
        self.logger = logger
        self.read_timeout_s = read_timeout_s
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._open.add(sock)
        return sock, addr

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Cut every open connection (idle keep-alive ones included)."""
        with self._lock:
            socks = list(self._open)
        for sock in socks:
            with contextlib.suppress(OSError):  # already closed by the other side
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Called for an exception escaping a handler: one line, never a traceback on stderr.
        self.logger.error("request from %s failed: %s", client_address, _current_exception())


def _current_exception() -> str:
    exc = sys.exc_info()[1]
    return f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"


class Handler(BaseHTTPRequestHandler):
    """Base handler: HTTP/1.1 keep-alive, bounded reads, quiet logs, JSON answers."""

    protocol_version = "HTTP/1.1"
    server_version = "window-eval-agent"
    sys_version = ""
    server: Server

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.read_timeout_s)  # every read is bounded

    def handle(self) -> None:
        try:
            super().handle()
        except OSError as exc:  # the client went away, or stop() cut the connection
            self.server.logger.debug("connection from %s ended: %s", self.client_address[0],
                                     exc)

    def log_message(self, format: str, *args: Any) -> None:
        self.server.logger.debug("%s %s", self.client_address[0], scrub(format % args))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # path and command are missing when the request line could not be parsed
        self.server.logger.debug("%s %s %s %s", self.client_address[0], self.command,
                                 loggable_path(getattr(self, "path", "")), code)

    def route_path(self) -> str:
        return urlsplit(self.path).path

    def dispatch(self) -> None:
        """Answer the request (every method comes here, so a route can answer 405)."""
        self.send_json(HTTPStatus.NOT_FOUND, {"ok": False, "error": "not found"})

    def do_GET(self) -> None:
        self.dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        # http.server's own refusals (a malformed request line, headers too long, an unknown
        # method): noted by on_malformed, then answered as http.server does.
        self.on_malformed(code)
        super().send_error(code, message, explain)

    def on_malformed(self, code: int) -> None:
        self.server.logger.warning("malformed request from %s refused (%d)",
                                   self.client_address[0], code)

    def read_body(self, limit: int) -> bytes:
        """The request body, at most `limit` bytes; BodyError otherwise. A body that is not
        read leaves the connection out of step, so every BodyError closes it."""
        if self.headers.get("Transfer-Encoding") is not None:
            self.close_connection = True
            raise BodyError(HTTPStatus.LENGTH_REQUIRED, "length_required",
                            "send the body with a Content-Length (no chunked encoding)")
        raw = self.headers.get("Content-Length")
        if raw is None:
            self.close_connection = True
            raise BodyError(HTTPStatus.LENGTH_REQUIRED, "length_required",
                            "a Content-Length header is required")
        if not raw.strip().isdigit():
            self.close_connection = True
            raise BodyError(HTTPStatus.BAD_REQUEST, "bad_length",
                            "Content-Length must be a non-negative integer")
        length = int(raw)
        if length > limit:
            self.close_connection = True
            raise BodyError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too_large",
                            f"body of {length} bytes, at most {limit}")
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self.close_connection = True
            raise BodyError(HTTPStatus.REQUEST_TIMEOUT, "body_timeout",
                            f"body not received within {self.server.read_timeout_s:g} s"
                            ) from None
        if len(body) < length:
            self.close_connection = True
            raise BodyError(HTTPStatus.BAD_REQUEST, "short_body",
                            f"body ended after {len(body)} of {length} bytes")
        return body

    def send_body(self, status: int, body: bytes, content_type: str,
                  headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        self.send_body(status, body, "application/json; charset=utf-8", headers)


class HttpService:
    """One server on its own thread. start() binds (errors surface to the caller: a port in
    use is an OSError naming it); stop() returns once nothing answers any more."""

    def __init__(self, name: str, listen: str, handler: type[Handler], logger: logging.Logger,
                 read_timeout_s: float = 10.0) -> None:
        self.name = name
        self.listen = listen
        self._address = parse_listen(listen)
        self._handler = handler
        self._logger = logger
        self._read_timeout_s = read_timeout_s
        self.server: Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound; the real port when listen asked for port 0."""
        if self.server is None:
            return self._address
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        if self.server is not None:
            return
        try:
            server = Server(self._address, self._handler, self._logger, self._read_timeout_s)
        except OSError as exc:
            raise OSError(exc.errno, f"{self.name}: cannot listen on {self.listen}: "
                                     f"{exc.strerror or exc}") from None
        self.server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={
            "poll_interval": 0.1}, name=self.name, daemon=True)
        self._thread.start()
        self._logger.info("%s listening on %s:%d", self.name, *self.address)

    def stop(self) -> None:
        server, thread = self.server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        server.drop_connections()
        thread.join()
        self.server = self._thread = None

"""A fault-injecting HTTP proxy in front of the center (stdlib http.server, keep-alive,
TCP_NODELAY). GETs pass through; each POST of a batch takes the next planned action:

- ``forward``: pass it on (also the default when nothing is planned);
- ``500``: answer 500 without passing it on (the center failed before storing);
- ``stored-500``: pass it on, then answer 500 (the center stored it, the answer was lost);
- ``stored-hang``: pass it on, then answer nothing until release() (the client times out);
- ``stored-hold``: the same, and set ``held`` first (the test kills the sender meanwhile);
- ``duplicate``: pass it on twice, answer with the second answer;
- ``drop``: close the connection without passing it on.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FaultProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.plan: deque[str] = deque()
        self.log: list[tuple[str, str, str, int]] = []  # method, path, idempotency key, status
        self.held = threading.Event()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def release(self) -> None:
        self._release.set()

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def batch_keys(self) -> list[str]:
        return [key for method, _, key, _ in self.log if method == "POST"]

    def forward(self, method: str, path: str, body: bytes | None,
                headers: dict[str, str]) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.target_port, timeout=30)
        try:
            conn.request(method, path, body, headers)
            answer = conn.getresponse()
            return answer.status, answer.read()
        finally:
            conn.close()

    def hold(self, announce: bool) -> None:
        if announce:
            self.held.set()
        self._release.wait(60)


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            self._pass(None)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            action = proxy.plan.popleft() if proxy.plan else "forward"
            if action == "drop":
                self._log(-1)
                self.close_connection = True
                return
            if action == "500":
                self._answer(500, b'{"error": "injected", "reason": "injected 500"}')
                return
            status, data = proxy.forward("POST", self.path, body, self._headers())
            if action == "duplicate":
                status, data = proxy.forward("POST", self.path, body, self._headers())
            if action in ("stored-hang", "stored-hold"):
                self._log(-2)
                proxy.hold(action == "stored-hold")
                self.close_connection = True
                return
            self._answer(500 if action == "stored-500" else status,
                         b'{"error": "injected", "reason": "stored, then 500"}'
                         if action == "stored-500" else data)

        def _pass(self, body: bytes | None) -> None:
            self._answer(*proxy.forward(self.command, self.path, body, self._headers()))

        def _headers(self) -> dict[str, str]:
            keep = ("Authorization", "Idempotency-Key", "Content-Type")
            return {k: v for k in keep if (v := self.headers.get(k)) is not None}

        def _answer(self, status: int, data: bytes) -> None:
            self._log(status)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _log(self, status: int) -> None:
            proxy.log.append((self.command, self.path,
                              self.headers.get("Idempotency-Key", ""), status))

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler

"""The outbox's HTTP client against a server that drops idle kept-alive connections (as
uvicorn does after 5 s): the next request reconnects at once instead of failing; a server
that is really gone is still `CenterUnreachable`."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from edge_agent.outbox import CenterClient, CenterUnreachable

ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
          b'{"ok":true}')


class DroppingServer:
    """Answers one request a connection, keep-alive in its headers, then closes it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                if data:
                    conn.sendall(ANSWER)

    def close(self) -> None:
        """Gone for good: shutdown wakes the accept() (a bare close may not, on Linux)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(5)


@pytest.fixture
def server() -> Iterator[DroppingServer]:
    s = DroppingServer()
    yield s
    s.close()


def test_a_connection_closed_while_idle_is_reopened_at_once(server: DroppingServer) -> None:
    client = CenterClient(f"http://127.0.0.1:{server.port}", "t" * 20, timeout_s=5)
    try:
        for _ in range(3):
            assert client.request("GET", "/v1/halls/H/head") == (200, {"ok": True})
    finally:
        client.close()
    assert server.connections == 3


def test_a_center_that_is_gone_is_unreachable(server: DroppingServer) -> None:
    client = CenterClient(f"http://127.0.0.1:{server.port}", "t" * 20, timeout_s=5)
    assert client.request("GET", "/v1/halls/H/head")[0] == 200
    server.close()
    with pytest.raises(CenterUnreachable):
        client.request("GET", "/v1/halls/H/head")
    client.close()

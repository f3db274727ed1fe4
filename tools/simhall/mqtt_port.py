"""The MQTT link of a simulated Wi-Fi pad: the firmware's own MqttSession and MQTTClient
(firmware/mqtt_session.py, mqtt_client.py), run under CPython against a real mosquitto.

Why the firmware's client and not paho: so the simulated pad reconnects, pings, gives up on a
dead broker and republishes exactly as a Pico W does. It runs under CPython with one
adapter: MicroPython sockets are streams with read(n)/write(data), CPython's have
recv/sendall, so the client's socket is wrapped right after it is created (`SocketStream`).
Everything else it uses (socket.getaddrinfo, non-blocking connect, select.poll) is the same
on both.

`MqttBoard` is what firmware/boards/wifi.py is on a board, with a Wi-Fi that is up unless the
simulation takes it down. Its keepalive may be raised above the board's 30 s: the session
counts it in the pad's (simulated) time, so at speed S a pad would give up on a broker that
was silent for 30/S real seconds, and a hiccup of the simulator's loop would look like a
dead link (see hall.Layout.mqtt_keepalive_s). A power cut closes the socket without
DISCONNECT, so the broker publishes the pad's last will ("offline") as for a pad losing power.
"""

from __future__ import annotations

import random
import socket
from typing import Any

from tools.simhall.devices import Link
from tools.simhall.firmware import module

_client = module("mqtt_client")
_session = module("mqtt_session")

KEEPALIVE_S = 30  # firmware/boards/wifi.py


class SocketStream:
    """A CPython socket with MicroPython's stream methods, for the firmware's MQTT client."""

    def __init__(self, sock: socket.socket) -> None:
        # Nagle would hold a double press's second publish ~40 ms for the first one's ACK:
        # nothing on a real pad, seconds of simulated time at x100 and above.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock

    def fileno(self) -> int:
        return self._sock.fileno()

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def settimeout(self, seconds: float | None) -> None:
        self._sock.settimeout(seconds)

    def write(self, data: bytes) -> int:
        self._sock.sendall(data)
        return len(data)

    def read(self, n: int) -> bytes:
        """Up to `n` bytes as MicroPython's stream read gives them: all `n` unless the peer
        closed first. Non-blocking with nothing there raises BlockingIOError (EAGAIN), which
        the client takes as "nothing yet"."""
        if self._sock.gettimeout() == 0.0:
            return self._sock.recv(n)
        out = b""
        while len(out) < n:
            chunk = self._sock.recv(n - len(out))
            if not chunk:
                break
            out += chunk
        return out

    def close(self) -> None:
        self._sock.close()


def make_client(client_id: str, host: str, port: int, user: str | None,
                password: str | None, keepalive: int = KEEPALIVE_S) -> Any:
    """The firmware's MQTTClient, its socket wrapped as it is created."""
    client = _client.MQTTClient(client_id.encode(), host, port,
                                user.encode() if user else None,
                                password.encode() if password else None, keepalive)
    connect = client.connect

    def connect_wrapped(clean_session: bool = False) -> None:
        connect(clean_session)
        if client.sock is not None and not isinstance(client.sock, SocketStream):
            client.sock = SocketStream(client.sock)

    client.connect = connect_wrapped
    return client


class Wifi:
    """The board's Wi-Fi (firmware/ports.pyi Wifi): associated unless `up` is False."""

    def __init__(self) -> None:
        self.up = True

    def isconnected(self) -> bool:
        return self.up

    def connect(self) -> None:
        pass  # association is the simulation's business: `up`


class MqttBoard:
    """Board for a Wi-Fi pad: opens the firmware's MQTT session at power-on."""

    def __init__(self, host: str, port: int, user: str | None = None,
                 password: str | None = None, rng: random.Random | None = None,
                 keepalive_s: int = KEEPALIVE_S) -> None:
        self.host = host
        self.port = port
        self.keepalive_s = keepalive_s
        self.user = user
        self.password = password
        self.wifi = Wifi()
        self.session: Any = None
        self._client: Any = None
        self._rng = rng or random.Random()

    def open(self, cfg: dict[str, Any], now: int) -> Link:
        client = make_client(cfg["device"], self.host, self.port, self.user, self.password,
                             self.keepalive_s)
        self._client = client
        self.session = _session.MqttSession(client, self.wifi, cfg, now, self._jitter)
        link: Link = self.session
        return link

    def close(self) -> None:
        if self._client is not None:
            self._client.close()  # no DISCONNECT: the broker sends the last will
        self._client = self.session = None

    def fileno(self) -> int | None:
        """The socket to wait on, while connected or connecting."""
        if self._client is None:
            return None
        sock = self._client.sock
        return None if sock is None else int(sock.fileno())

    @property
    def connected(self) -> bool:
        return self.session is not None and bool(self.session.connected)

    def _jitter(self, n: int) -> int:
        return self._rng.randrange(n) if n > 0 else 0

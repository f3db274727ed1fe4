"""A pad's MQTT connection through outages, as the pad's link (docs/protocol.md, MQTT).

What it does, after peterhinch's mqtt_as: Wi-Fi first, then the broker, retried with
exponential back-off and jitter; connecting never holds up the main loop (the TCP handshake
and the CONNACK are looked for at each step, given up after CONNECT_TIMEOUT_MS); a
persistent session (clean_session False) so the subscription to the down topic outlives a
reconnect; a ping every keepalive/4 and the connection declared dead when nothing came from
the broker for a whole keepalive; a retained "online" on the status topic, with a retained
"offline" last will.

What it does not do is decide delivery: a frame is delivered when the agent's ack message
arrives. The pad's outbox keeps the event and republishes it, with the same boot and sequence
number, until then; while the link is down, send() drops the frame and the next retry sends.
"""

from mqtt_client import MQTTException
from ticks import ticks_add, ticks_diff

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from mqtt_client import MQTTClient
    from ports import Wifi

BACKOFF_FIRST_MS = 1000
BACKOFF_MAX_MS = 60000
CONNECT_TIMEOUT_MS = 5000  # TCP handshake plus CONNACK


def topics(cfg: dict) -> tuple[bytes, bytes, bytes]:
    base = f"hall/{cfg['hall']}/{cfg['counter']}/{cfg['device']}/"
    return (base + "up").encode(), (base + "down").encode(), (base + "status").encode()


class MqttSession:
    polled = False

    def __init__(
        self, client: "MQTTClient", wifi: "Wifi", cfg: dict, now: int, rand: "Callable[[int], int]"
    ) -> None:
        self._client = client
        self._wifi = wifi
        self._up, self._down, self._status = topics(cfg)
        self._keepalive_ms = client.keepalive * 1000
        self._rand = rand
        self._inbox: list[bytes] = []
        self.connected = False
        self.connecting = False
        self._connect_by = now
        self.connects = 0
        self._next_try = now
        self._backoff = BACKOFF_FIRST_MS
        self._last_rx = now
        self._last_ping = now
        self._rx_seen = 0
        client.set_callback(self._on_message)
        client.set_last_will(self._status, b"offline", retain=True, qos=1)

    def _on_message(self, topic: bytes, msg: bytes) -> None:
        if topic == self._down and len(self._inbox) < 16:
            self._inbox.append(msg)

    def send(self, raw: bytes) -> None:
        if not self.connected:
            return
        try:
            self._client.publish(self._up, raw, qos=1)
        except OSError:
            self._drop(self._last_rx)

    def recv(self) -> list[bytes]:
        got = self._inbox
        self._inbox = []
        return got

    def step(self, now: int) -> None:
        if self.connected:
            self._keep(now)
        elif self.connecting:
            self._handshake(now)
        elif ticks_diff(now, self._next_try) >= 0:
            self._connect(now)

    def _connect(self, now: int) -> None:
        if not self._wifi.isconnected():
            self._wifi.connect()
            self._retry_later(now)
            return
        try:
            self._client.connect(clean_session=False)
        except (OSError, MQTTException):
            self._client.close()
            self._retry_later(now)
            return
        self.connecting = True
        self._connect_by = ticks_add(now, CONNECT_TIMEOUT_MS)
        self._handshake(now)

    def _handshake(self, now: int) -> None:
        """Waits, one look per step, for the TCP connection and the broker's CONNACK."""
        try:
            if self._client.connack() is None:
                if ticks_diff(now, self._connect_by) >= 0:
                    raise OSError("no CONNACK in time")
                return
            self._client.subscribe(self._down, qos=1)
            self._client.publish(self._status, b"online", retain=True, qos=1)
        except (OSError, MQTTException):
            self.connecting = False
            self._client.close()
            self._retry_later(now)
            return
        self.connecting = False
        self.connected = True
        self.connects += 1
        self._backoff = BACKOFF_FIRST_MS
        self._last_rx = now
        self._last_ping = now
        self._rx_seen = self._client.rx_count

    def _keep(self, now: int) -> None:
        if not self._wifi.isconnected():
            self._drop(now)
            return
        try:
            self._client.check_msg()
            if self._client.rx_count != self._rx_seen:
                self._rx_seen = self._client.rx_count
                self._last_rx = now
            if ticks_diff(now, self._last_rx) >= self._keepalive_ms:
                self._drop(now)  # not even a PINGRESP for a whole keepalive: the link is dead
            elif ticks_diff(now, self._last_ping) >= self._keepalive_ms // 4:
                self._client.ping()
                self._last_ping = now
        except OSError:
            self._drop(now)

    def _drop(self, now: int) -> None:
        self.connected = False
        self._client.close()
        self._retry_later(now)

    def _retry_later(self, now: int) -> None:
        jitter = self._rand(self._backoff // 2 + 1)
        self._next_try = ticks_add(now, self._backoff + jitter)
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_MS)

"""A pad on the MicroPython unix port whose link is MQTT (tests/firmware/upy/mqtt_board.py),
and a test agent in CPython that talks to it through a real broker with paho-mqtt."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.wire import Decoder, DeviceKey, Encoder, Message, Result, SeqGuard
from tests.broker import Broker
from tests.firmware import upy_env
from tests.firmware.pty_pad import PtyPad, pad_config

UP = "hall/+/+/+/up"
STATUS = "hall/+/+/+/status"


def mqtt_pad_config(broker: Broker, user: str | None = None,
                    password: str | None = None) -> dict[str, object]:
    cfg = pad_config(link="mqtt")
    login = {"user": user, "password": password} if user is not None else {}
    cfg.update(board="pico_w", wifi={"ssid": "hall", "password": "unused on the host"},
               mqtt={"host": broker.host, "port": broker.port, **login})
    return cfg


def topic(cfg: dict[str, object], leaf: str) -> str:
    return f"hall/{cfg['hall']}/{cfg['counter']}/{cfg['device']}/{leaf}"


class MqttPad(PtyPad):
    """The whole pad program, board `mqtt_board`: start, press keys, stop, kill -9."""

    def __init__(self, mpy_dir: Path, root: Path) -> None:
        super().__init__(mpy_dir, root, "")

    def argv(self) -> list[str]:
        return [upy_env.MICROPYTHON, "-X", f"heapsize={upy_env.HEAPSIZE}", "-m", "mqtt_board",
                str(self.root / "flash"), str(self.control)]


class MqttAgent:
    """The agent's side of MQTT: subscribes to every pad's up (QoS 1, a persistent session, so
    frames the broker holds while the agent reconnects are not lost) and status topics in
    on_connect, decodes up frames with replay protection and acks on the pad's down topic."""

    def __init__(self, broker: Broker, devices: dict[int, DeviceKey],
                 client_id: str = "test-agent", user: str | None = None,
                 password: str | None = None) -> None:
        self.decoder = Decoder(devices.get, SeqGuard())
        self.encoder = Encoder(boot=1)
        self.devices = devices
        self.results: list[Result] = []
        self.status: list[tuple[str, bytes, bool]] = []
        self._up: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._status_changed = threading.Condition()
        self._subscribed = threading.Event()
        self._topics: dict[str, str] = {}  # device -> its up topic
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        if user is not None:
            self.client.username_pw_set(user, password)
        self.client.connect(broker.host, broker.port, keepalive=10)
        self.client.loop_start()
        if not self._subscribed.wait(5):
            self.close()
            raise AssertionError("the agent did not get its subscription")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags,
                    reason_code: Any, properties: Any) -> None:
        if not reason_code.is_failure:
            client.subscribe([(UP, 1), (STATUS, 1)])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int,
                      reason_codes: list[Any], properties: Any) -> None:
        if all(not code.is_failure for code in reason_codes):
            self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/up"):
            self._up.put((message.topic, message.payload))
        else:
            with self._status_changed:
                self.status.append((message.topic, message.payload, message.retain))
                self._status_changed.notify_all()

    def _decode(self, up_topic: str, payload: bytes) -> Result:
        got = self.decoder.decode(payload)
        if isinstance(got, Message):
            # A frame is taken only from its own device's topic.
            assert up_topic.split("/")[3] == got.device, (up_topic, got)
            self._topics[got.device] = up_topic
        self.results.append(got)
        return got

    def read(self, timeout: float) -> list[Message]:
        """Every message decoded within `timeout`."""
        out: list[Message] = []
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                got = self._decode(*self._up.get(timeout=left))
            except queue.Empty:
                break
            if isinstance(got, Message):
                out.append(got)
        return out

    def wait_for(self, predicate: Callable[[Message], bool], timeout: float = 5.0) -> Message:
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                got = self._decode(*self._up.get(timeout=left))
            except queue.Empty:
                break
            if isinstance(got, Message) and predicate(got):
                return got
        raise AssertionError("the pad published no such frame in time")

    def wait_status(self, payload: bytes, timeout: float = 5.0) -> None:
        with self._status_changed:
            if not self._status_changed.wait_for(
                lambda: any(p == payload for _, p, _ in self.status), timeout
            ):
                raise AssertionError(f"no status {payload!r} in time: {self.status}")

    def ack(self, msg: Message) -> None:
        down = self._topics[msg.device].removesuffix("/up") + "/down"
        raw = self.encoder.ack(self.devices[msg.address], msg.address, msg.boot, msg.seq)
        self.client.publish(down, raw, qos=1).wait_for_publish(5)


def retained(broker: Broker, status_topic: str, timeout: float = 3.0) -> bytes:
    """The retained message of a topic, as a client that subscribes now sees it."""
    got: queue.Queue[tuple[bytes, bool]] = queue.Queue()
    peek = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)

    def on_connect(client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags,
                   reason_code: Any, properties: Any) -> None:
        client.subscribe(status_topic, qos=1)

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        got.put((message.payload, message.retain))

    peek.on_connect = on_connect
    peek.on_message = on_message
    peek.connect(broker.host, broker.port)
    peek.loop_start()
    try:
        payload, was_retained = got.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"nothing retained on {status_topic}") from None
    finally:
        peek.disconnect()
        peek.loop_stop()
    assert was_retained, payload
    return payload

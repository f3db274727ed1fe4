"""The agent's side of MQTT for the simulated-pad tests: paho-mqtt 2.x subscribed (in
on_connect) to every pad's up and status topics, decoding with the agent's codec and acking
on the pad's down topic."""

from __future__ import annotations

import queue
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.wire import Decoder, DeviceKey, Encoder, Message, SeqGuard
from tests.broker import Broker

WAIT_S = 5.0


class MqttAgent:
    def __init__(self, broker: Broker, devices: dict[int, DeviceKey]) -> None:
        self.decoder = Decoder(devices.get, SeqGuard())
        self.encoder = Encoder(boot=1)
        self.devices = devices
        self.status: queue.Queue[bytes] = queue.Queue()
        self._up: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self._topics: dict[str, str] = {}
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sim-test-agent",
                                  clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port, keepalive=10)
        self.client.loop_start()
        if not self._subscribed.wait(WAIT_S):
            self.close()
            raise AssertionError("the test agent got no subscription")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags,
                    reason_code: Any, properties: Any) -> None:
        client.subscribe([("hall/+/+/+/up", 1), ("hall/+/+/+/status", 1)])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int,
                      reason_codes: list[Any], properties: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any,
                    message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/up"):
            self._up.put((message.topic, bytes(message.payload)))
        else:
            self.status.put(bytes(message.payload))

    def read(self, timeout: float) -> list[Message]:
        """Messages decoded within `timeout` (the first waited for, the rest as they are)."""
        out: list[Message] = []
        try:
            topic, payload = self._up.get(timeout=timeout)
            while True:
                got = self.decoder.decode(payload)
                if isinstance(got, Message):
                    self._topics[got.device] = topic
                    out.append(got)
                topic, payload = self._up.get_nowait()
        except queue.Empty:
            return out

    def wait_status(self, payload: bytes) -> None:
        while (got := self.status.get(timeout=WAIT_S)) != payload:
            del got

    def ack(self, msg: Message) -> None:
        down = self._topics[msg.device].removesuffix("/up") + "/down"
        raw = self.encoder.ack(self.devices[msg.address], msg.address, msg.boot, msg.seq)
        self.client.publish(down, raw, qos=1).wait_for_publish(WAIT_S)

"""A fleet of pads over MQTT that press continuously, for the kill -9 test and the benchmark.

Each pad behaves as the firmware does on the wire (docs/protocol.md): one event in flight,
the same (boot, seq) republished until the agent's ack arrives, then the next press. One
paho client carries every pad (a test broker without ACLs): what matters here is what the
agent sees and acks. ``acked`` is the ground truth: every (device, boot, seq) a pad saw
acknowledged, with the latency of each first send to its ack.
"""

from __future__ import annotations

import secrets
import struct
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.service.mqtt_link import nodelay
from edge_agent.wire import Ack, Decoder, DeviceKey, KeyLookup, Kind, Message, seal
from edge_agent.wire.protocol import LEVELS

RETRY_S = (0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass
class FleetPad:
    device: str
    counter: str
    key: bytes
    boot: int = 1
    seq: int = 0
    in_flight: int | None = None  # seq of the unacked press
    first_sent: float = 0.0
    last_sent: float = 0.0
    tries: int = 0
    acked: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def fleet_config(hall: str, n: int, host: str, port: int, journal: str,
                 extra: str = "", status_listen: str = "") -> tuple[str, list[FleetPad]]:
    """A hall file with n counters, each with one MQTT pad, and the fleet's pads."""
    pads = [FleetPad(f"P{i:03d}", f"C{i:03d}", secrets.token_bytes(32)) for i in range(1, n + 1)]
    lines = [f'[hall]\nid = "{hall}"\n',
             f'[agent]\njournal = "{journal}"\nstatus_listen = "{status_listen}"\n',
             f'[mqtt]\nhost = "{host}"\nport = {port}\n']
    for p in pads:
        lines.append(f'[devices.{p.device}]\ncounter = "{p.counter}"\nlink = "mqtt"\n'
                     f'address = 1\nkey = "{p.key.hex()}"\n')
    return "\n".join(lines) + extra, pads


class PadFleet:
    def __init__(self, hall: str, pads: list[FleetPad], host: str, port: int,
                 gap_s: float = 0.0) -> None:
        self.hall = hall
        self.pads = {p.device: p for p in pads}
        self.gap_s = gap_s
        self.pressing = True
        self.resends = 0
        self._lock = threading.Lock()
        self._decoders = {p.device: Decoder(_fixed(DeviceKey(p.device, p.key)), None,
                                            upstream=False) for p in pads}
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                   client_id=f"fleet-{secrets.token_hex(4)}")
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.connect(host, port, keepalive=30)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drive, daemon=True)

    def start(self) -> None:
        self._client.loop_start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._client.disconnect()
        self._client.loop_stop()

    def settle(self, timeout_s: float) -> bool:
        """Stop pressing and wait until every press in flight is acked."""
        self.pressing = False
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if all(p.in_flight is None for p in self.pads.values()):
                    return True
            time.sleep(0.05)
        return False

    def acked(self) -> set[tuple[str, int, int]]:
        with self._lock:
            return {(p.device, p.boot, s) for p in self.pads.values() for s in p.acked}

    def latencies(self) -> list[float]:
        with self._lock:
            return [x for p in self.pads.values() for x in p.latencies]

    # --- pads ----------------------------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason: object, properties: object) -> None:
        nodelay(client)
        client.subscribe(f"hall/{self.hall}/+/+/down", qos=1)

    def _on_message(self, client: mqtt.Client, userdata: object,
                    message: mqtt.MQTTMessage) -> None:
        device = message.topic.split("/")[3]
        decoder = self._decoders.get(device)
        if decoder is None:
            return
        result = decoder.decode(bytes(message.payload))
        if not isinstance(result, Message) or not isinstance(result.body, Ack):
            return
        with self._lock:
            pad = self.pads[device]
            if pad.in_flight == result.body.seq and pad.boot == result.body.boot:
                pad.acked.append(pad.in_flight)
                pad.latencies.append(time.monotonic() - pad.first_sent)
                pad.in_flight = None
                pad.last_sent = time.monotonic()

    def _drive(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                due = [p for p in self.pads.values() if self._due(p, now)]
            for pad in due:
                self._send(pad, now)
            time.sleep(0.002)

    def _due(self, pad: FleetPad, now: float) -> bool:
        if pad.in_flight is None:
            if not self.pressing or now - pad.last_sent < self.gap_s:
                return False
            pad.seq += 1
            pad.in_flight, pad.first_sent, pad.tries = pad.seq, now, 0
            return True
        wait = RETRY_S[min(pad.tries - 1, len(RETRY_S) - 1)]
        return now - pad.last_sent >= wait

    def _send(self, pad: FleetPad, now: float) -> None:
        with self._lock:
            seq = pad.in_flight
            if seq is None:
                return
            if pad.tries:
                self.resends += 1
            pad.tries += 1
            pad.last_sent = now
            age = int((now - pad.first_sent) * 1000)
        level = LEVELS.index("satisfied" if seq % 3 else "unsatisfied")
        payload = struct.pack(">BIBB", 0, age, 0 if seq % 3 else 1, level)
        raw = seal(pad.key, 1, Kind.PRESS, pad.boot, seq, payload)
        self._client.publish(f"hall/{self.hall}/{pad.counter}/{pad.device}/up", raw, qos=1)


def _fixed(dk: DeviceKey) -> KeyLookup:
    def lookup(address: int) -> DeviceKey:
        return dk
    return lookup

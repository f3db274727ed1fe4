"""The MQTT link (docs/protocol.md, Links: MQTT): pads' frames and status from the hall's
mosquitto to the core's inbox, the core's frames to the pads' down topics.

Topics, for hall H: pads publish raw frames on hall/H/<counter>/<device>/up (QoS 1) and a
retained "online" / last-will "offline" on .../status; the agent publishes on .../down (QoS 1);
the queue system publishes JSON reports on hall/H/queue and reads the agent's answer to each on
hall/H/queue/answer, published once the report is journaled (or refused), as the HTTP hook
answers only then. The link only sorts and stamps what
it hears: the core decodes the frames. Everything it refuses is counted by reason and logged.

paho-mqtt 2.x runs the network in its own thread (loop_start), reconnects with back-off and
calls on_connect after every connect, where the link subscribes again: with a fixed client id
and clean_session False the broker also keeps QoS 1 messages for the agent while it is away.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import socket
import threading
from collections import Counter
from collections.abc import Callable, Collection
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.config import HallConfig
from edge_agent.service.inputs import Inbox, Item, LinkState, MqttFrame, QueueReport
from edge_agent.service.queue_report import QueueReportError, parse_report, report_id
from edge_agent.service.send_queue import AckFirstQueue
from edge_agent.wire.protocol import MAX_RAW

log = logging.getLogger(__name__)

PENDING_LIMIT = 256
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30
LEAVES = ("up", "status")  # what the agent hears of a pad; it publishes on "down"


def known_counters(config: HallConfig) -> frozenset[str]:
    """Counters a queue report may name: configured ones and those the devices serve."""
    return frozenset(config.counters) | {d.counter for d in config.devices.values()}


def nodelay(client: mqtt.Client) -> None:
    """Turn Nagle off on the client's socket: paho leaves it on, and a small QoS 1 frame
    then waits for the peer's delayed ACK (~40 ms a hop on Linux)."""
    sock = client.socket()
    if sock is not None and hasattr(sock, "setsockopt"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class MqttLink:
    """The Link of every device whose link is "mqtt" in the hall config."""

    name = "mqtt"

    def __init__(self, config: HallConfig, now_us: Callable[[], int], *,
                 counters: Collection[str] | None = None, client_id: str | None = None,
                 pending_limit: int = PENDING_LIMIT,
                 reconnect_s: tuple[int, int] = (RECONNECT_MIN_S, RECONNECT_MAX_S)) -> None:
        """`counters`: those a queue report may name (default: known_counters(config))."""
        self.hall = config.hall_id
        self._settings = config.service.mqtt
        self._salt = config.service.hook.salt
        self._staff = frozenset(config.service.staff)
        self._counters = frozenset(known_counters(config) if counters is None else counters)
        self._devices = {d.id: d.counter for d in config.devices.values() if d.link == "mqtt"}
        self._now_us = now_us
        self._inbox: Inbox | None = None
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._connected = False
        self._subscriptions = 0  # SUBACKs received, one per connect
        self._pending: AckFirstQueue[tuple[str, bytes]] = AckFirstQueue(pending_limit,
                                                                      drop_acks=False)
        self._counts: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self._client = self._make_client(client_id or f"window-eval-agent-{self.hall}",
                                         reconnect_s)

    # -- topics

    def _topic(self, counter: str, device: str, leaf: str) -> str:
        return f"hall/{self.hall}/{counter}/{device}/{leaf}"

    def subscriptions(self) -> list[tuple[str, int]]:
        return [(f"hall/{self.hall}/+/+/up", 1), (f"hall/{self.hall}/+/+/status", 1),
                (f"hall/{self.hall}/queue", 1)]

    # -- the Link protocol

    def start(self, inbox: Inbox) -> None:
        self._inbox = inbox
        self._client.connect_async(self._settings.host, self._settings.port,
                                   keepalive=self._settings.keepalive_s)
        self._client.loop_start()

    def send(self, device: str, frame: bytes, *, ack: bool) -> bool:
        if device not in self._devices:
            return False
        with self._lock:
            if self._connected:
                self._publish(device, frame)
            else:
                self._pending.put((device, frame), ack)
        return True

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def health(self) -> dict[str, Any]:
        with self._lock:
            return {
                "connected": self._connected,
                "connects": self._counts["connects"],
                "reconnects": max(0, self._counts["connects"] - 1),
                "connect_refused": self._counts["connect_refused"],
                "frames_in": self._counts["frames_in"],
                "status_in": self._counts["status_in"],
                "queue_in": self._counts["queue_in"],
                "answers_out": self._counts["answers_out"],
                "frames_out": self._counts["frames_out"],
                "pending": len(self._pending),
                "dropped": self._pending.dropped,
                "refused": dict(self._refused),
            }

    def wait_subscribed(self, timeout: float, times: int = 1) -> bool:
        """Blocks until the link has subscribed `times` times since it started (once per
        connect), or the timeout; True if it has."""
        with self._ready:
            return self._ready.wait_for(lambda: self._subscriptions >= times, timeout)

    # -- what the link hears

    def handle(self, topic: str, payload: bytes) -> Item | None:
        """The inbox item for one message, or None when it is refused (counted and logged)."""
        parts = topic.split("/")
        if parts == ["hall", self.hall, "queue"]:
            return self._queue_report(topic, payload)
        if len(parts) != 5 or parts[:2] != ["hall", self.hall] or parts[4] not in LEAVES:
            self._refuse("unknown_topic", topic)
            return None
        _, _, counter, device, leaf = parts
        if device not in self._devices:
            self._refuse("unknown_device_topic", topic)
            return None
        if self._devices[device] != counter:
            self._refuse("wrong_counter_topic", topic,
                         f"{device} serves {self._devices[device]}")
            return None
        if leaf == "up":
            return self._frame(topic, device, payload)
        return self._status(topic, device, payload)

    def _frame(self, topic: str, device: str, payload: bytes) -> Item | None:
        if len(payload) > MAX_RAW:
            self._refuse("oversize", topic, f"{len(payload)} bytes, at most {MAX_RAW}")
            return None
        self._count("frames_in")
        return MqttFrame(device, payload, self._now_us())

    def _status(self, topic: str, device: str, payload: bytes) -> Item | None:
        if payload == b"online":
            state = LinkState((device,), True, self._now_us(), "status online")
        elif payload == b"offline":
            state = LinkState((device,), False, self._now_us(), "last will")
        else:
            self._refuse("bad_status", topic, f"{payload[:16]!r}")
            return None
        self._count("status_in")
        return state

    def _queue_report(self, topic: str, body: bytes) -> Item | None:
        if not self._salt:
            self._refuse("queue_off", topic, "[hook] salt is not set")
            return None
        try:
            report = parse_report(body, self._salt, self._counters, self._now_us(),
                                  self._staff)
        except QueueReportError as exc:  # its message never quotes the applicant's ID number
            self._refuse("bad_queue_report", topic, str(exc))
            self.answer({"id": report_id(body), "ok": False, "error": str(exc)})
            return None
        self._count("queue_in")
        return dataclasses.replace(report, done=self._answer_for(report))

    def answer_topic(self) -> str:
        return f"hall/{self.hall}/queue/answer"

    def answer(self, fields: dict[str, Any]) -> None:
        """Publish one answer to the queue system (QoS 1; paho holds it across a reconnect)."""
        body = json.dumps({k: v for k, v in fields.items() if v is not None},
                          ensure_ascii=False)
        self._client.publish(self.answer_topic(), body.encode(), qos=1)
        self._count("answers_out")

    def _answer_for(self, report: QueueReport) -> Callable[[bool, str], None]:
        head = {"id": report.id, "counter": report.counter, "type": report.type,
                "ticket": report.ticket, "staff": report.staff}

        def done(ok: bool, why: str) -> None:  # called by the core, after the commit
            self.answer({**head, "ok": ok, "error": why or None})
        return done

    def _refuse(self, reason: str, topic: str, detail: str = "") -> None:
        with self._lock:
            self._refused[reason] += 1
        log.warning("mqtt: refused %s on %s%s", reason, topic, f": {detail}" if detail else "")

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    # -- paho

    def _make_client(self, client_id: str, reconnect_s: tuple[int, int]) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=False)
        if self._settings.user:
            client.username_pw_set(self._settings.user, self._settings.password or None)
        client.reconnect_delay_set(min_delay=reconnect_s[0], max_delay=reconnect_s[1])
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags,
                    reason_code: ReasonCode, properties: Any) -> None:
        if reason_code.is_failure:
            self._count("connect_refused")
            log.warning("mqtt: broker %s:%d refused the connection: %s", self._settings.host,
                        self._settings.port, reason_code)
            return
        log.info("mqtt: connected to %s:%d (session present: %s)", self._settings.host,
                 self._settings.port, flags.session_present)
        nodelay(client)
        client.subscribe(self.subscriptions())
        with self._lock:
            self._counts["connects"] += 1
            self._connected = True
            for device, frame in self._pending.drain():
                self._publish(device, frame)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int,
                      reason_codes: list[ReasonCode], properties: Any) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            log.error("mqtt: subscriptions refused by the broker (its ACL?): %s", refused)
        with self._ready:
            self._subscriptions += 1
            self._ready.notify_all()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any,
                       reason_code: ReasonCode, properties: Any) -> None:
        with self._lock:
            was = self._connected
            self._connected = False
        if was:
            log.warning("mqtt: disconnected (%s); reconnecting", reason_code)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        # Whatever a message holds, it must not end paho's network thread.
        try:
            item = self.handle(msg.topic, bytes(msg.payload))
        except UnicodeDecodeError:
            self._refuse("bad_topic", repr(msg._topic))
            item = None
        except Exception:
            log.exception("mqtt: a message on %r could not be handled", msg._topic)
            self._refuse("internal_error", repr(msg._topic))
            item = None
        if item is not None and self._inbox is not None:
            self._inbox.put(item)

    def _publish(self, device: str, frame: bytes) -> None:
        """Hands one frame to paho (QoS 1: paho keeps it until the broker's PUBACK, across
        reconnects). Called with the lock held."""
        self._client.publish(self._topic(self._devices[device], device, "down"), frame, qos=1)
        self._counts["frames_out"] += 1

"""edge_agent.service.mqtt_link against a real mosquitto (tests/broker.py): pads' frames and
status to the inbox, the agent's frames to the pads, refusals counted, reconnects."""

from __future__ import annotations

import itertools
import logging
import queue
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.config import HallConfig, parse_config
from edge_agent.service.inputs import Inbox, Item, LinkState, MqttFrame, QueueReport
from edge_agent.service.mqtt_link import MqttLink
from edge_agent.service.queue_report import id_hash
from edge_agent.service.send_queue import AckFirstQueue
from edge_agent.wire import Decoder, DeviceKey, Encoder, Kind, Message, Press, ScreenCode, SeqGuard
from edge_agent.wire.frame import seal
from edge_agent.wire.protocol import MAX_RAW
from tests.broker import Broker, running_broker

HALL = "qingpu"
KEY_A = bytes(range(32))
KEY_B = bytes(range(32, 64))
AGENT_PASSWORD = "agent-secret-0123"
QUEUE_TOKEN = "queue-token-0123456789"
SALT = "salt-0123456789abcdef"
WAIT_S = 10.0  # generous: how long an expected message may take before the test fails
ID_NUMBER = "310101199001011234"


def hall_toml(port: int) -> str:
    return f"""
[hall]
id = "{HALL}"
[mqtt]
host = "127.0.0.1"
port = {port}
user = "agent"
password = "{AGENT_PASSWORD}"
keepalive_s = 10
[hook]
token = "{QUEUE_TOKEN}"
salt = "{SALT}"
[counters.A01]
[devices.A01-pad]
counter = "A01"
link = "mqtt"
address = 3
key = "{KEY_A.hex()}"
[devices.B02-pad]
counter = "B02"
link = "mqtt"
address = 4
key = "{KEY_B.hex()}"
[devices.C03-pad]
counter = "C03"
link = "usb"
key = "{KEY_B.hex()}"
"""


def hall_config(port: int) -> HallConfig:
    return parse_config(hall_toml(port))


def topic(counter: str, device: str, leaf: str) -> str:
    return f"hall/{HALL}/{counter}/{device}/{leaf}"


def press_frame(key: bytes = KEY_A, address: int = 3, seq: int = 1) -> bytes:
    return seal(key, address, Kind.PRESS, 1, seq, struct.pack(">BIBB", 0, 250, 0, 1))


class Peer:
    """A pad, the queue system or an intruder: a paho client with its CONNACKs and messages
    on queues."""

    def __init__(self, broker: Broker, client_id: str, user: str | None = None,
                 password: str | None = None, will: str | None = None,
                 clean: bool = True) -> None:
        self.connacks: queue.Queue[ReasonCode] = queue.Queue()
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.subacks: queue.Queue[list[ReasonCode]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=clean)
        if user is not None:
            self.client.username_pw_set(user, password)
        if will is not None:
            self.client.will_set(will, b"offline", qos=1, retain=True)
        self.client.on_connect = lambda c, u, f, rc, p: self.connacks.put(rc)
        self.client.on_message = lambda c, u, m: self.messages.put(m)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.put(rcs)
        self.client.reconnect_delay_set(1, 1)
        self.client.connect(broker.host, broker.port, keepalive=10)
        self.client.loop_start()

    def connack(self) -> ReasonCode:
        return self.connacks.get(timeout=WAIT_S)

    def joined(self) -> Peer:
        code = self.connack()
        assert not code.is_failure, code
        return self

    def publish(self, where: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(where, payload, qos=1, retain=retain).wait_for_publish(WAIT_S)

    def subscribe(self, where: str) -> None:
        self.client.subscribe(where, qos=1)
        self.subacks.get(timeout=WAIT_S)

    def message(self) -> mqtt.MQTTMessage:
        return self.messages.get(timeout=WAIT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def vanish(self) -> None:
        """The connection drops with no DISCONNECT (power cut): the broker sends the will."""
        self.client.loop_stop()
        sock = self.client.socket()
        assert sock is not None
        sock.close()


class Clock:
    def __init__(self) -> None:
        self.ticks = itertools.count(1_000_000, 1000)
        self.fail_next = False

    def __call__(self) -> int:
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("a clock that fails once")
        return next(self.ticks)


def take(inbox: Inbox) -> Item:
    return inbox.get(timeout=WAIT_S)


def until(inbox: Inbox, done: Callable[[Item], bool]) -> list[Item]:
    """Every item up to and including the first for which `done` holds."""
    items = [take(inbox)]
    while not done(items[-1]):
        items.append(take(inbox))
    return items


def is_frame(payload: bytes) -> Callable[[Item], bool]:
    return lambda item: isinstance(item, MqttFrame) and item.payload == payload


Rig = tuple[MqttLink, Inbox, Broker]


@pytest.fixture
def mosq(tmp_path: Path) -> Iterator[Broker]:
    with running_broker(tmp_path / "mosquitto") as b:
        yield b


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rig(mosq: Broker, clock: Clock) -> Iterator[Rig]:
    link = MqttLink(hall_config(mosq.port), clock, reconnect_s=(1, 1))
    inbox: Inbox = queue.Queue()
    link.start(inbox)
    try:
        assert link.wait_subscribed(WAIT_S)
        yield link, inbox, mosq
    finally:
        link.stop()


@pytest.fixture
def pads(mosq: Broker) -> Iterator[Callable[..., Peer]]:
    made: list[Peer] = []

    def make(client_id: str = "A01-pad", **kw: Any) -> Peer:
        made.append(Peer(mosq, client_id, **kw))
        return made[-1].joined()

    yield make
    for peer in made:
        peer.close()


def test_a_pad_frame_on_up_reaches_the_inbox_stamped_and_decodable(rig: Rig, pads: Any) -> None:
    link, inbox, _ = rig
    frame = press_frame()
    pads().publish(topic("A01", "A01-pad", "up"), frame)
    item = take(inbox)
    assert isinstance(item, MqttFrame)
    assert (item.device, item.payload, item.t_us) == ("A01-pad", frame, 1_000_000)
    decoded = Decoder({3: DeviceKey("A01-pad", KEY_A)}.get, SeqGuard()).decode(item.payload)
    assert isinstance(decoded, Message) and isinstance(decoded.body, Press)
    assert decoded.body.level == "satisfied"
    assert link.health()["frames_in"] == 1 and link.health()["refused"] == {}


def test_send_publishes_on_the_devices_down_topic(rig: Rig, pads: Any) -> None:
    link, _, _ = rig
    pad = pads()
    pad.subscribe(topic("A01", "A01-pad", "down"))
    frame = Encoder(boot=1).ack(DeviceKey("A01-pad", KEY_A), 3, boot=1, seq=1)
    assert link.send("A01-pad", frame, ack=True)
    msg = pad.message()
    assert (msg.topic, msg.payload, msg.qos) == (topic("A01", "A01-pad", "down"), frame, 1)
    assert not link.send("nobody", frame, ack=True)
    assert not link.send("C03-pad", frame, ack=True)  # a USB pad: not this link's
    assert link.health()["frames_out"] == 1


def test_status_online_then_last_will_offline(rig: Rig, mosq: Broker) -> None:
    _, inbox, _ = rig
    status = topic("B02", "B02-pad", "status")
    pad = Peer(mosq, "B02-pad", will=status).joined()
    pad.publish(status, b"online", retain=True)
    online = take(inbox)
    assert online == LinkState(("B02-pad",), True, 1_000_000, "status online")
    pad.vanish()
    offline = take(inbox)
    assert isinstance(offline, LinkState)
    assert (offline.devices, offline.online, offline.why) == (("B02-pad",), False, "last will")


def test_the_retained_status_is_delivered_when_the_link_connects(mosq: Broker, pads: Any,
                                                                clock: Clock) -> None:
    pads().publish(topic("A01", "A01-pad", "status"), b"online", retain=True)
    link = MqttLink(hall_config(mosq.port), clock)
    inbox: Inbox = queue.Queue()
    link.start(inbox)
    try:
        assert take(inbox) == LinkState(("A01-pad",), True, 1_000_000, "status online")
    finally:
        link.stop()


def test_topics_that_do_not_name_the_devices_own_counter_are_refused(
        rig: Rig, pads: Any, caplog: pytest.LogCaptureFixture) -> None:
    link, inbox, _ = rig
    caplog.set_level(logging.WARNING, logger="edge_agent.service.mqtt_link")
    pad = pads()
    pad.publish(topic("B02", "A01-pad", "up"), press_frame())  # A01-pad serves A01
    pad.publish(topic("A01", "Z99-pad", "up"), press_frame())  # no such device
    pad.publish(topic("C03", "C03-pad", "up"), press_frame())  # a USB pad
    pad.publish(topic("A01", "A01-pad", "status"), b"maybe")
    marker = press_frame(seq=2)
    pad.publish(topic("A01", "A01-pad", "up"), marker)
    assert until(inbox, is_frame(marker)) == [MqttFrame("A01-pad", marker, 1_000_000)]
    assert link.health()["refused"] == {"wrong_counter_topic": 1, "unknown_device_topic": 2,
                                        "bad_status": 1}
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert [r.getMessage() for r in refusals] == [
        f"mqtt: refused wrong_counter_topic on {topic('B02', 'A01-pad', 'up')}: A01-pad serves A01",
        f"mqtt: refused unknown_device_topic on {topic('A01', 'Z99-pad', 'up')}",
        f"mqtt: refused unknown_device_topic on {topic('C03', 'C03-pad', 'up')}",
        f"mqtt: refused bad_status on {topic('A01', 'A01-pad', 'status')}: b'maybe'",
    ]
    assert all(r.exc_info is None for r in refusals)


def test_an_oversize_payload_is_refused_before_the_core(rig: Rig, pads: Any) -> None:
    link, inbox, _ = rig
    pad = pads()
    up = topic("A01", "A01-pad", "up")
    pad.publish(up, bytes(MAX_RAW + 1))
    pad.publish(up, bytes(MAX_RAW))  # the longest frame there is still goes to the core
    item = take(inbox)
    assert isinstance(item, MqttFrame) and item.payload == bytes(MAX_RAW)
    assert link.health()["refused"] == {"oversize": 1}


def test_queue_reports_malformed_counted_good_delivered_hashed(rig: Rig, pads: Any) -> None:
    link, inbox, _ = rig
    system = pads("queue-system")
    where = f"hall/{HALL}/queue"
    system.publish(where, b'{"counter": "A01", "type": ')
    system.publish(where, b'{"counter": "Z9", "type": "service_done"}')
    system.publish(where, f'{{"counter": "A01", "type": "ticket_called", "ticket": "T001", '
                          f'"applicant_id": "{ID_NUMBER}"}}'.encode())
    report = take(inbox)
    assert isinstance(report, QueueReport)
    assert (report.counter, report.type, report.ticket) == ("A01", "ticket_called", "T001")
    assert report.applicant == id_hash(SALT, ID_NUMBER) and ID_NUMBER not in repr(report)
    assert link.health()["refused"] == {"bad_queue_report": 2}
    assert link.health()["queue_in"] == 1


def test_a_failing_message_does_not_stop_the_network_thread(rig: Rig, pads: Any,
                                                            clock: Clock) -> None:
    link, inbox, _ = rig
    pad = pads()
    up = topic("A01", "A01-pad", "up")
    clock.fail_next = True
    pad.publish(up, press_frame(seq=1))
    pad.publish(up, press_frame(seq=2))
    assert until(inbox, is_frame(press_frame(seq=2)))[0] == MqttFrame(
        "A01-pad", press_frame(seq=2), 1_000_000)
    assert link.health()["refused"] == {"internal_error": 1}


def test_broker_crash_the_link_reconnects_resubscribes_and_frames_flow(rig: Rig,
                                                                       mosq: Broker) -> None:
    link, inbox, _ = rig
    # SIGKILL before any autosave: the broker forgets the agent's session and subscriptions,
    # so only the link's own subscribing again on connect brings frames.
    mosq.restart(kill=True)
    assert link.wait_subscribed(WAIT_S, times=2)
    pad = Peer(mosq, "A01-pad").joined()
    try:
        pad.publish(topic("A01", "A01-pad", "up"), press_frame(seq=7))
        item = take(inbox)
        assert isinstance(item, MqttFrame) and item.payload == press_frame(seq=7)
    finally:
        pad.close()
    health = link.health()
    assert health["connected"] and health["reconnects"] == 1


def test_frames_sent_while_the_broker_is_down_wait_bounded_then_go_out(mosq: Broker,
                                                                       clock: Clock) -> None:
    pad = Peer(mosq, "A01-pad", clean=False).joined()  # a persistent session, as pads have
    pad.subscribe(topic("A01", "A01-pad", "down"))
    mosq.stop()
    link = MqttLink(hall_config(mosq.port), clock, pending_limit=2, reconnect_s=(1, 1))
    link.start(queue.Queue())
    enc, dest = Encoder(boot=1), DeviceKey("A01-pad", KEY_A)
    first = enc.display(dest, 3, ScreenCode.INVITE, "张三")
    ack = enc.ack(dest, 3, boot=1, seq=5)
    second = enc.display(dest, 3, ScreenCode.THANKS)
    last = enc.display(dest, 3, ScreenCode.WELCOME)
    try:
        for frame in (first, ack, second, last):
            assert link.send("A01-pad", frame, ack=frame is ack)
        assert link.health()["pending"] == 2 and link.health()["dropped"] == 2
        mosq.start()
        assert [pad.message().payload, pad.message().payload] == [ack, last]
        assert link.health()["frames_out"] == 2 and link.health()["pending"] == 0
    finally:
        link.stop()
        pad.close()


# -- without a broker: the pure parts


def ack_frame(seq: int) -> bytes:
    return Encoder(boot=1).ack(DeviceKey("A01-pad", KEY_A), 3, boot=1, seq=seq)


@settings(max_examples=200, deadline=None)
@given(limit=st.integers(1, 6), acks=st.lists(st.booleans(), max_size=30))
def test_pending_never_drops_an_ack_and_keeps_the_newest_in_order(limit: int,
                                                                   acks: list[bool]) -> None:
    pending: AckFirstQueue[tuple[str, bytes]] = AckFirstQueue(limit, drop_acks=False)
    frames = [ack_frame(i) if is_ack else bytes([1, 3, Kind.DISPLAY, i])
              for i, is_ack in enumerate(acks)]
    for frame, is_ack in zip(frames, acks, strict=True):
        pending.put(("A01-pad", frame), is_ack)
    kept = [frame for _, frame in pending.drain()]
    sent_acks = [f for f, a in zip(frames, acks, strict=True) if a]
    assert kept[:len(sent_acks)] == sent_acks  # every ack, first, in order
    displays = kept[len(sent_acks):]
    sent_displays = [f for f, a in zip(frames, acks, strict=True) if not a]
    assert displays == sent_displays[len(sent_displays) - len(displays):]  # the newest
    assert len(kept) <= max(limit, len(sent_acks))
    assert pending.dropped == len(frames) - len(kept)
    if len(frames) >= limit:
        assert len(kept) == max(limit, len(sent_acks))
    if frames and not acks[-1] and sum(acks) < limit:
        assert kept[-1] == frames[-1]  # the newest display always survives


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.sampled_from(["hall", HALL, "A01", "B02", "A01-pad", "B02-pad",
                                       "up", "status", "queue", "down", "", "+", "x"]),
                      max_size=6),
       payload=st.one_of(st.binary(max_size=120),
                         st.sampled_from([b"online", b"offline", b"{}", b"[1]"])))
def test_handle_turns_any_message_into_one_item_or_one_refusal(parts: list[str],
                                                                payload: bytes) -> None:
    link = MqttLink(hall_config(1883), Clock())
    before = sum(link.health()["refused"].values())
    item = link.handle("/".join(parts), payload)
    refusals = sum(link.health()["refused"].values()) - before
    assert (item is None) == (refusals == 1)
    assert refusals in (0, 1)

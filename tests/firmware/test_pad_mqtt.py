"""The whole pad program on the MicroPython unix port with link "mqtt", its socket the port's
real one, against a real mosquitto (tests/broker.py) and a paho-mqtt agent in CPython that
decodes with edge_agent.wire (docs/protocol.md, MQTT)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.wire import Kind, Message, Press, SelfTest
from tests.broker import Broker, password_file, running_broker
from tests.firmware.mqtt_pad import MqttAgent, MqttPad, mqtt_pad_config, retained, topic
from tests.firmware.pty_pad import DEVICE, prepare_flash

Rig = tuple[MqttPad, MqttAgent, Broker]


@pytest.fixture
def rig(mpy_dir: Path, tmp_path: Path, broker: Broker) -> Iterator[Rig]:
    prepare_flash(tmp_path, mqtt_pad_config(broker))
    agent = MqttAgent(broker, {3: DEVICE})
    pad = MqttPad(mpy_dir, tmp_path)
    pad.start()
    try:
        yield pad, agent, broker
    finally:
        out = pad.stop()
        agent.close()
        assert "Traceback" not in out, out


def is_press(msg: Message) -> bool:
    return msg.kind is Kind.PRESS


def presses(msgs: list[Message]) -> list[Message]:
    return [msg for msg in msgs if is_press(msg)]


def booted(agent: MqttAgent) -> Message:
    """The pad's self-test event, acked: from here on only what a test does is in flight."""
    selftest = agent.wait_for(lambda msg: msg.kind is Kind.SELFTEST)
    assert isinstance(selftest.body, SelfTest)
    assert selftest.body.failed == () and "link" in selftest.body.ok
    agent.ack(selftest)
    return selftest


def test_press_reaches_the_agent_is_acked_and_not_sent_again(rig: Rig) -> None:
    pad, agent, _ = rig
    booted(agent)
    pad.press(0)
    press = agent.wait_for(is_press)
    assert isinstance(press.body, Press) and press.body.level == "satisfied"
    assert not press.duplicate
    agent.ack(press)
    # Unacked it would come again after 0.5, 1.5 s...: acked, never.
    assert presses(agent.read(2.0)) == []
    assert agent.decoder.rejections == {}


def test_without_the_agents_ack_the_same_seq_is_published_again(rig: Rig) -> None:
    pad, agent, _ = rig
    booted(agent)
    pad.press(1)
    first = agent.wait_for(is_press)
    # The broker has PUBACKed the first copy by now: that does not take it off the outbox.
    again = agent.wait_for(is_press, timeout=2.0)
    assert (again.boot, again.seq) == (first.boot, first.seq)
    assert not first.duplicate and again.duplicate
    assert isinstance(again.body, Press) and isinstance(first.body, Press)
    assert again.body.level == "unsatisfied"
    assert again.body.age_ms >= first.body.age_ms + 400
    agent.ack(again)
    assert presses(agent.read(1.5)) == []


def test_retained_online_after_connect_and_last_will_offline_when_killed(rig: Rig) -> None:
    pad, agent, broker = rig
    status = topic(mqtt_pad_config(broker), "status")
    booted(agent)
    agent.wait_status(b"online")
    assert retained(broker, status) == b"online"
    pad.kill()  # kill -9: no DISCONNECT, the broker publishes the will
    agent.wait_status(b"offline")
    assert retained(broker, status) == b"offline"
    pad.start()
    agent.wait_for(lambda msg: msg.kind is Kind.SELFTEST)
    assert retained(broker, status) == b"online"


def test_broker_restart_with_a_press_unacked(rig: Rig) -> None:
    pad, agent, broker = rig
    booted(agent)
    pad.press(0)
    first = agent.wait_for(is_press)
    assert not first.duplicate
    broker.restart()  # the pad's connection drops; same port, same persistence folder
    again = agent.wait_for(lambda msg: is_press(msg) and msg.seq == first.seq, timeout=12.0)
    assert broker.log().count(" as A01-pad ") >= 2  # the pad reconnected
    assert (again.boot, again.seq) == (first.boot, first.seq) and again.duplicate
    assert retained(broker, topic(mqtt_pad_config(broker), "status")) == b"online"
    agent.ack(again)
    agent.read(1.5)
    # Every copy the agent ever decoded: one press, new exactly once, duplicates after.
    copies = [r for r in agent.results if isinstance(r, Message) and is_press(r)]
    assert copies[0] is first and again in copies
    assert {(msg.boot, msg.seq) for msg in copies} == {(first.boot, first.seq)}
    assert [msg.duplicate for msg in copies].count(False) == 1


def test_press_during_a_broker_outage_arrives_once_it_is_back(rig: Rig) -> None:
    pad, agent, broker = rig
    booted(agent)
    broker.stop()
    pad.press(1)
    time.sleep(0.5)  # the outbox keeps it, the link drops what the pad sends meanwhile
    broker.start()
    press = agent.wait_for(is_press, timeout=12.0)
    assert not press.duplicate
    assert isinstance(press.body, Press) and press.body.level == "unsatisfied"
    assert press.body.age_ms >= 500
    agent.ack(press)
    later = presses(agent.read(1.5))
    assert all(msg.duplicate and msg.seq == press.seq for msg in later), later


def test_a_press_while_the_broker_hangs_in_the_handshake_is_kept(rig: Rig) -> None:
    pad, agent, broker = rig
    booted(agent)
    pad.kill()
    broker.pause()  # TCP connects, no CONNACK comes
    pad.start()
    time.sleep(0.8)  # the pad is waiting for the CONNACK: its loop must go on scanning keys
    pad.press(0)
    time.sleep(0.3)
    broker.resume()
    agent.ack(agent.wait_for(lambda msg: msg.kind is Kind.SELFTEST))
    press = agent.wait_for(is_press)
    assert isinstance(press.body, Press) and not press.duplicate
    agent.ack(press)


def test_an_ack_sent_while_the_pad_is_off_waits_in_its_persistent_session(rig: Rig) -> None:
    pad, agent, _ = rig
    booted(agent)
    pad.press(0)
    first = agent.wait_for(is_press)
    agent.read(0.4)  # past the outbox's flush delay, no ack
    pad.kill()
    before = len(agent.results)
    agent.ack(first)  # the broker keeps it for the pad's session (clean_session False)
    pad.start()
    # Boot 2 gets the queued ack on connecting: its own self-test follows with no press acked
    # again (had the ack been lost, the press would hold up everything behind it).
    after = agent.wait_for(lambda msg: msg.kind is Kind.SELFTEST, timeout=5.0)
    assert after.boot == first.boot + 1
    again = [r for r in agent.results[before:] if isinstance(r, Message) and is_press(r)]
    # At most the one copy sent from flash right after connecting, before the ack was read.
    assert len(again) <= 1 and all((msg.boot, msg.seq) == (first.boot, first.seq)
                                   for msg in again)
    agent.ack(after)
    assert presses(agent.read(1.5)) == []


def test_pad_logs_in_with_the_user_and_password_of_its_config(mpy_dir: Path,
                                                             tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    users = password_file(secrets / "passwd", {"A01-pad": "pad-secret", "agent": "agent-secret"})
    acl = secrets / "acl"
    acl.write_text("user agent\ntopic readwrite hall/#\n\n"
                   "user A01-pad\ntopic readwrite hall/qingpu/A01/A01-pad/#\n")
    with running_broker(tmp_path / "mosquitto", password_file=users, acl_file=acl) as broker:
        agent = MqttAgent(broker, {3: DEVICE}, user="agent", password="agent-secret")
        pad = MqttPad(mpy_dir, tmp_path)
        try:
            prepare_flash(tmp_path, mqtt_pad_config(broker, "A01-pad", "wrong"))
            pad.start()
            time.sleep(1.5)  # refused (CONNACK 5), it retries with back-off and keeps running
            assert pad.proc is not None and pad.proc.poll() is None
            assert agent.read(0.1) == []
            assert "not authorised" in broker.log() and " as A01-pad " not in broker.log()
            pad.kill()
            prepare_flash(tmp_path, mqtt_pad_config(broker, "A01-pad", "pad-secret"))
            pad.start()
            # The self-test of the refused boot waited in flash; it comes first, then this one.
            assert booted(agent).boot + 1 == booted(agent).boot
            pad.press(0)
            press = agent.wait_for(is_press)
            agent.ack(press)
            assert presses(agent.read(1.0)) == []
        finally:
            out = pad.stop()
            agent.close()
        assert "Traceback" not in out, out

"""A simulated Wi-Fi pad: the firmware's own MQTT session and client, run under CPython,
against a real mosquitto and a paho-mqtt agent decoding with the agent's codec."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge_agent.wire import DeviceKey, Kind, Message, Press
from tests.broker import Broker
from tests.sim.mqtt_agent import MqttAgent
from tests.sim.rig import Hand, key_of, pad_config
from tools.simhall.devices import SimPad
from tools.simhall.mqtt_port import MqttBoard

Rig = tuple[SimPad, MqttBoard, MqttAgent, Hand]


@pytest.fixture
def rig(tmp_path: Path, broker: Broker) -> Iterator[Rig]:
    agent = MqttAgent(broker, {3: DeviceKey("A01-pad", key_of(3))})
    board = MqttBoard(broker.host, broker.port)
    pad = SimPad(pad_config(link="mqtt"), tmp_path / "flash", board)
    hand = Hand(pad)
    pad.power_on(hand.t_ms)
    try:
        yield pad, board, agent, hand
    finally:
        pad.power_off()
        agent.close()


def until(rig: Rig, predicate: Callable[[Message], bool], timeout: float = 10.0) -> Message:
    """Run the pad (simulated time at a few times real time) until the agent decodes a
    message that satisfies `predicate`."""
    _, _, agent, hand = rig
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        hand.run(50, step_ms=50)
        for msg in agent.read(0.01):
            if predicate(msg):
                return msg
    raise AssertionError(f"no such message in {timeout} s")


def is_press(msg: Message) -> bool:
    return msg.kind is Kind.PRESS


def booted(rig: Rig) -> Message:
    selftest = until(rig, lambda m: m.kind is Kind.SELFTEST)
    rig[2].ack(selftest)
    return selftest


def test_a_press_is_published_with_a_valid_tag_and_not_again_once_acked(rig: Rig) -> None:
    pad, board, agent, hand = rig
    booted(rig)
    assert board.connected
    pad.rate("unsatisfied", hand.t_ms)
    press = until(rig, is_press)
    assert isinstance(press.body, Press) and press.body.level == "unsatisfied"
    assert press.device == "A01-pad" and not press.duplicate
    agent.ack(press)
    beat = until(rig, lambda m: m.kind is Kind.HEARTBEAT or (is_press(m) and not m.duplicate))
    assert beat.kind is Kind.HEARTBEAT  # idle: nothing but heartbeats any more
    assert pad.presses_acked() == [(press.boot, press.seq)]
    assert agent.decoder.rejections == {}


def test_without_the_agents_ack_the_same_seq_is_published_again(rig: Rig) -> None:
    pad, _, _, hand = rig
    booted(rig)
    pad.rate("satisfied", hand.t_ms)
    first = until(rig, is_press)
    again = until(rig, is_press)
    assert (again.boot, again.seq) == (first.boot, first.seq) and again.duplicate
    assert isinstance(again.body, Press) and isinstance(first.body, Press)
    assert again.body.age_ms >= first.body.age_ms + 500


def test_a_power_cut_publishes_the_last_will_and_a_new_boot_comes_online(rig: Rig) -> None:
    pad, _, agent, hand = rig
    first = booted(rig)
    agent.wait_status(b"online")
    pad.power_off()
    agent.wait_status(b"offline")
    pad.power_on(hand.t_ms)
    selftest = until(rig, lambda m: m.kind is Kind.SELFTEST and m.boot == first.boot + 1)
    assert not selftest.duplicate


def test_a_press_during_a_wifi_outage_arrives_once_it_is_back(rig: Rig) -> None:
    pad, board, _, hand = rig
    booted(rig)
    board.wifi.up = False
    hand.run(200)
    assert not board.connected
    pad.rate("satisfied", hand.t_ms)
    hand.run(3_000)  # the press waits in the outbox
    board.wifi.up = True
    press = until(rig, is_press)
    assert isinstance(press.body, Press) and not press.duplicate
    assert press.body.age_ms >= 3_000

"""Several simulated pads on one RS-485-style bus (one pty): each answers only the polls
addressed to it, as the firmware's bus mode does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.wire import Heartbeat, Kind, Message, Press
from tests.sim.rig import SerialAgent, delivered, pad_config
from tools.simhall.devices import SimPad
from tools.simhall.serial_port import BusPort

ADDRESSES = (1, 2, 5)


class Bus:
    def __init__(self, tmp_path: Path) -> None:
        self.port = BusPort(tmp_path / "dev" / "bus0")
        self.pads = {a: SimPad(pad_config(f"A0{a}-pad", a, link="rs485"),
                               tmp_path / f"flash{a}", self.port.board(a)) for a in ADDRESSES}
        self.t_ms = 1_000
        for pad in self.pads.values():
            pad.power_on(self.t_ms)
        self.agent = SerialAgent(self.port.port.path, {a: f"A0{a}-pad" for a in ADDRESSES})

    def poll(self, address: int) -> set[int]:
        """The agent polls `address`; the simulator reads the line and steps who heard."""
        self.agent.send(self.agent.encoder.poll(self.agent.keys.get(address) or
                                                self.agent.keys[1], address))
        return self.pump()

    def pump(self, wait: bool = True) -> set[int]:
        if wait:
            delivered(self.port.port.fileno())
        heard = self.port.pump()
        self.t_ms += 5
        for pad in self.pads.values():
            pad.advance(self.t_ms)
        return heard

    def answer(self) -> Message:
        msg, _ = self.agent.until(lambda m: True)
        return msg


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[Bus]:
    b = Bus(tmp_path)
    try:
        yield b
    finally:
        b.agent.close()
        for pad in b.pads.values():
            pad.power_off()


def test_each_pad_answers_only_the_polls_to_its_address(bus: Bus) -> None:
    for address in (5, 1, 2, 1):
        assert bus.poll(address) == {address}
        msg = bus.answer()
        assert (msg.address, msg.device) == (address, f"A0{address}-pad")
        if msg.kind is Kind.SELFTEST:  # each pad's first answer: its boot self-test
            bus.agent.ack(msg)
            bus.pump()
        else:
            assert isinstance(msg.body, Heartbeat)  # nothing to send: a heartbeat
    assert bus.port.unrouted == 0


def test_nobody_answers_a_poll_to_an_empty_address_or_an_unpowered_pad(bus: Bus) -> None:
    bus.pads[2].power_off()
    before = bus.port.port.written
    assert bus.poll(9) == set() and bus.poll(2) == set()
    assert bus.port.port.written == before  # not a byte on the line
    assert bus.port.unrouted == 2
    assert bus.poll(5) == {5}
    assert bus.answer().address == 5


def test_a_press_waits_for_its_pads_poll_and_is_acked_by_address(bus: Bus) -> None:
    for address in ADDRESSES:  # boot self-tests out of the way
        bus.poll(address)
        bus.agent.ack(bus.answer())
        bus.pump()
    pad = bus.pads[2]
    pad.rate("unsatisfied", bus.t_ms)
    before = bus.port.port.written
    bus.pump(wait=False)
    bus.t_ms += 100
    pad.advance(bus.t_ms)  # made, and past a retry time: still silent until polled
    assert pad.presses() and bus.port.port.written == before
    bus.poll(1)
    assert bus.answer().address == 1
    bus.poll(2)
    press = bus.answer()
    assert press.address == 2 and isinstance(press.body, Press)
    assert press.body.level == "unsatisfied"
    bus.agent.ack(press)
    bus.pump()
    assert pad.presses_acked() == pad.presses()
    bus.poll(2)
    assert isinstance(bus.answer().body, Heartbeat)

"""A simulated pad (the real firmware's pad logic in simulated time) on a real pty, read by
pyserial on the slave path as the agent opens it, decoded by the agent's codec."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import serial  # type: ignore[import-untyped]

from edge_agent.wire import FrameRejection, Kind, Message, Press, ScreenCode
from tests.sim.rig import Hand, SerialAgent, delivered, pad_config
from tools.simhall.devices import SimPad
from tools.simhall.pins import DEBOUNCE_SAMPLE_MS
from tools.simhall.serial_port import PtyPort, UsbBoard

Rig = tuple[SimPad, PtyPort, SerialAgent, Hand]


def make_rig(tmp_path: Path, keys: int = 2) -> Rig:
    port = PtyPort(tmp_path / "dev" / "A01-pad")
    pad = SimPad(pad_config(keys=keys), tmp_path / "flash", UsbBoard(port))
    hand = Hand(pad)
    pad.power_on(hand.t_ms)
    return pad, port, SerialAgent(port.path, {3: "A01-pad"}), hand


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = make_rig(tmp_path)
    try:
        yield r
    finally:
        r[2].close()
        r[0].power_off()


def is_press(msg: Message) -> bool:
    return msg.kind is Kind.PRESS


def booted(pad: SimPad, port: PtyPort, agent: SerialAgent, hand: Hand) -> None:
    """The boot self-test read and acked: from here only what the test does is in flight."""
    hand.run(50)
    selftest, _ = agent.until(lambda m: m.kind is Kind.SELFTEST)
    agent.ack(selftest)
    delivered(port.fileno())
    hand.run(50)
    assert pad.ledger.acked == {(selftest.boot, selftest.seq)}


@pytest.mark.parametrize(("keys", "level"), [(2, "unsatisfied"), (2, "satisfied"),
                                             (5, "very_satisfied"), (5, "basic")])
def test_a_press_arrives_as_the_right_press_with_a_valid_tag(tmp_path: Path, keys: int,
                                                             level: str) -> None:
    pad, port, agent, hand = make_rig(tmp_path, keys)
    try:
        booted(pad, port, agent, hand)
        pad.rate(level, hand.t_ms + 100, hold_ms=120)
        hand.run(400)
        press, before = agent.until(is_press)
        # A Message at all means the CRC and the HMAC tag held under the device's key.
        assert isinstance(press.body, Press) and press.body.level == level
        assert press.device == "A01-pad" and not press.duplicate
        assert press.body.age_ms <= 400 and press.body.flags == 0
        assert not [r for r in before if isinstance(r, FrameRejection)]
        assert pad.presses() == [(press.boot, press.seq)]
    finally:
        agent.close()
        pad.power_off()


def test_a_frame_under_another_key_is_refused_as_a_bad_tag(tmp_path: Path) -> None:
    cfg = pad_config()
    cfg["key"] = "ab" * 32  # provisioned with a key the agent does not hold
    port = PtyPort(tmp_path / "dev" / "A01-pad")
    pad = SimPad(cfg, tmp_path / "flash", UsbBoard(port))
    pad.power_on(0)
    agent = SerialAgent(port.path, {3: "A01-pad"})
    try:
        pad.advance(10)
        got = agent.next_results()
        assert [type(r).__name__ for r in got] == ["FrameRejection"]
        assert agent.decoder.rejections == {"bad_tag": 1}
    finally:
        agent.close()
        pad.power_off()


def test_no_ack_resends_with_the_same_boot_and_seq_then_stops_once_acked(rig: Rig) -> None:
    pad, port, agent, hand = rig
    booted(pad, port, agent, hand)
    pad.rate("satisfied", hand.t_ms)
    hand.run(100)
    first, _ = agent.until(is_press)
    hand.run(600)  # past the first retry, 500 ms, without an ack
    again, _ = agent.until(is_press)
    assert (again.boot, again.seq) == (first.boot, first.seq) and again.duplicate
    assert isinstance(again.body, Press) and isinstance(first.body, Press)
    assert again.body.age_ms >= first.body.age_ms + 500
    agent.ack(again)
    delivered(port.fileno())
    hand.run(10_050)  # an idle pad sends a heartbeat every 10 s: the marker of "all sent"
    _, between = agent.until(lambda m: m.kind is Kind.HEARTBEAT)
    assert not [r for r in between if isinstance(r, Message) and r.kind is Kind.PRESS]
    assert pad.presses_acked() == [(first.boot, first.seq)]


def test_a_double_press_makes_two_presses_sent_one_at_a_time(rig: Rig) -> None:
    pad, port, agent, hand = rig
    booted(pad, port, agent, hand)
    t0 = hand.t_ms
    pad.rate("satisfied", t0, hold_ms=100)
    pad.rate("satisfied", t0 + 300, hold_ms=100)
    hand.run(500)
    first, _ = agent.until(is_press)
    agent.ack(first)
    delivered(port.fileno())
    hand.run(50)  # the ack is read at t0 + 550, and the second press goes out at once
    second, _ = agent.until(lambda m: is_press(m) and m.seq != first.seq)
    assert second.seq == first.seq + 1 and not second.duplicate
    assert isinstance(second.body, Press) and isinstance(first.body, Press)
    # Each is taken once held for the debounce time. The first goes out at the next step
    # (t0 + 50), the second once the first is acked (t0 + 550); the agent stamps each at its
    # arrival minus its age: when it was pressed, 300 ms apart.
    stamped_first = t0 + 50 - first.body.age_ms
    stamped_second = t0 + 550 - second.body.age_ms
    assert stamped_first == t0 + DEBOUNCE_SAMPLE_MS
    assert stamped_second - stamped_first == 300


def test_a_reboot_mid_retransmit_resends_from_flash_with_the_age_a_lower_bound(
        rig: Rig) -> None:
    pad, port, agent, hand = rig
    booted(pad, port, agent, hand)
    pad.rate("unsatisfied", hand.t_ms)
    hand.run(300)  # past the outbox's 100 ms flush: the press is in flash
    first, _ = agent.until(is_press)
    pad.reboot(hand.t_ms)  # the USB port goes and comes back: the agent opens it again
    agent.close()
    agent = SerialAgent(port.path, {3: "A01-pad"})
    hand.run(50)
    again, _ = agent.until(is_press)
    assert (again.boot, again.seq) == (first.boot, first.seq)
    assert isinstance(again.body, Press) and again.body.flags & 1
    agent.ack(again)
    delivered(port.fileno())
    hand.run(50)
    selftest, _ = agent.until(lambda m: m.kind is Kind.SELFTEST)
    assert selftest.boot == first.boot + 1
    assert pad.presses_acked() == [(first.boot, first.seq)] and not pad.ledger.lost
    agent.close()


def test_a_power_cut_within_the_flush_delay_loses_the_press_and_says_so(rig: Rig) -> None:
    pad, port, agent, hand = rig
    booted(pad, port, agent, hand)
    pad.rate("satisfied", hand.t_ms, hold_ms=40)
    hand.run(50, step_ms=50)  # the press is made; its outbox write is 100 ms away
    made = pad.presses()
    assert len(made) == 1
    pad.reboot(hand.t_ms)
    assert pad.ledger.lost == set(made)


def test_unplugging_the_pad_makes_its_port_vanish_for_the_agent(rig: Rig) -> None:
    pad, port, agent, hand = rig
    booted(pad, port, agent, hand)
    pad.power_off()
    assert not port.path.exists()
    with pytest.raises(serial.SerialException):
        agent.port.read(1)  # what the agent's link sees when a USB cable is pulled
    pad.power_on(hand.t_ms)
    assert port.path.exists()


def test_a_display_command_is_shown_with_the_staff_name(rig: Rig) -> None:
    pad, port, agent, hand = rig
    booted(pad, port, agent, hand)
    agent.send(agent.encoder.display(agent.keys[3], 3, ScreenCode.INVITE, "王小明"))
    delivered(port.fileno())
    hand.run(50)
    assert (pad.pins.screen, pad.pins.text) == (ScreenCode.INVITE, "王小明")


def test_quick_presses_all_count_and_keep_their_times_however_coarse_the_loop(
        rig: Rig) -> None:
    """At speed the loop turns every few hundred simulated ms: presses inside one turn are
    still seen one by one, and each is sent at the present with its true age."""
    pad, port, agent, hand = rig
    booted(pad, port, agent, hand)
    t0 = hand.t_ms
    for i in range(3):
        pad.rate("satisfied", t0 + 100 + 250 * i, hold_ms=150)
    hand.run(1_000, step_ms=1_000)  # one step, past all three
    stamps = []
    for _ in range(3):
        press, _ = agent.until(lambda m: is_press(m) and not m.duplicate)
        assert isinstance(press.body, Press)
        stamps.append(hand.t_ms - press.body.age_ms)  # as the agent stamps it
        agent.ack(press)
        delivered(port.fileno())
        hand.run(50)
    assert len(pad.presses()) == 3
    first = t0 + 100 + DEBOUNCE_SAMPLE_MS
    # The 2nd and 3rd go out later (each after the previous ack), their ages grown to
    # match: every stamp is the press's own time.
    assert [s - first for s in stamps] == [0, 250, 500]

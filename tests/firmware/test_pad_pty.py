"""The whole pad program on the MicroPython unix port, its UART a pty, against the agent's
decoder in CPython."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.wire import Kind, Message, Press, ScreenCode, SelfTest
from tests.firmware.pty_pad import DEVICE, Agent, PtyPad, pad_config, prepare_flash
from tools.harness.pty_pair import PtyPair


@pytest.fixture
def rig(mpy_dir: Path, tmp_path: Path) -> Iterator[tuple[PtyPad, Agent]]:
    line = PtyPair.open()
    prepare_flash(tmp_path, pad_config())
    pad = PtyPad(mpy_dir, tmp_path, line.path)
    pad.start()
    try:
        yield pad, Agent(line.master, {3: DEVICE})
    finally:
        out = pad.stop()
        line.close()
        assert "Traceback" not in out, out


def is_press(msg: Message) -> bool:
    return msg.kind is Kind.PRESS


def test_boot_selftest_then_press_is_acked_and_not_resent(rig: tuple[PtyPad, Agent]) -> None:
    pad, agent = rig
    selftest = agent.wait_for(lambda msg: msg.kind is Kind.SELFTEST)
    assert isinstance(selftest.body, SelfTest)
    assert selftest.body.failed == () and "flash" in selftest.body.ok
    agent.ack(selftest)
    pad.press(0)
    press = agent.wait_for(is_press)
    assert isinstance(press.body, Press) and press.body.level == "satisfied"
    assert not press.duplicate
    agent.ack(press)
    later = agent.read(1.5)
    assert not [r for r in later if isinstance(r, Message) and r.kind is Kind.PRESS]
    assert agent.decoder.rejections == {}


def test_unacked_press_is_retransmitted_with_the_same_seq(rig: tuple[PtyPad, Agent]) -> None:
    pad, agent = rig
    agent.ack(agent.wait_for(lambda msg: msg.kind is Kind.SELFTEST))
    pad.press(1)
    first = agent.wait_for(is_press)
    again = agent.wait_for(is_press, timeout=2.0)
    assert (again.boot, again.seq) == (first.boot, first.seq)
    assert again.duplicate
    assert isinstance(again.body, Press) and isinstance(first.body, Press)
    assert again.body.level == "unsatisfied"
    assert again.body.age_ms >= first.body.age_ms + 400
    agent.ack(again)
    assert not [r for r in agent.read(1.2) if isinstance(r, Message) and r.kind is Kind.PRESS]


def test_reboot_sends_the_unacked_press_again_from_flash(rig: tuple[PtyPad, Agent]) -> None:
    pad, agent = rig
    agent.ack(agent.wait_for(lambda msg: msg.kind is Kind.SELFTEST))
    pad.press(0)
    first = agent.wait_for(is_press)
    agent.read(0.4)  # past the outbox's flush delay, no ack
    pad.kill()
    pad.start()
    again = agent.wait_for(is_press)
    assert (again.boot, again.seq) == (first.boot, first.seq)
    assert isinstance(again.body, Press) and again.body.flags & 1  # age is a lower bound
    agent.ack(again)
    after = agent.wait_for(lambda msg: msg.kind is Kind.SELFTEST)
    assert after.boot == first.boot + 1


def test_display_command_reaches_the_pad(rig: tuple[PtyPad, Agent]) -> None:
    _, agent = rig
    agent.ack(agent.wait_for(lambda msg: msg.kind is Kind.SELFTEST))
    agent.send(agent.encoder.display(DEVICE, 3, ScreenCode.PAUSED, "暂停服务"))
    beat = agent.wait_for(lambda msg: msg.kind is Kind.HEARTBEAT, timeout=12.0)
    assert beat.body.screen is ScreenCode.PAUSED  # type: ignore[union-attr]

"""Simulated staff keypads and badge readers, read by the agent's own evdev link and keymap
(edge_agent.service.evdev_link, keymap) through a real Unix socket per device."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.config import DeviceConfig
from edge_agent.service.evdev_link import EvdevLink
from edge_agent.service.inputs import BadgeRead, Inbox, Item, KeyAction, LinkState
from edge_agent.service.keymap import PAD_KEYMAPS, STAFF_KEYMAP, BadgeDecoder, KeyDecoder
from edge_agent.service.socket_input import SocketSource
from edge_agent.service.socket_input import to_event as _event
from tools.simhall.input_device import SocketInput
from tools.simhall.keypad import BadgeReader, Keypad, card_events, code_for, key_events

NOW_US = 1_772_000_000_000_000
WAIT_S = 10.0


class Devices:
    def __init__(self, folder: Path) -> None:
        self.keypad = Keypad("A01-keypad", SocketInput(folder / "A01-keypad"), STAFF_KEYMAP)
        self.pad = Keypad("A01-pad", SocketInput(folder / "A01-pad"), PAD_KEYMAPS[2])
        self.badge = BadgeReader("A01-badge", SocketInput(folder / "A01-badge"))
        self.configs = [DeviceConfig("A01-keypad", "A01", "keypad", "evdev",
                                     str(self.keypad.dev.path)),
                        DeviceConfig("A01-pad", "A01", "pad", "evdev", str(self.pad.dev.path)),
                        DeviceConfig("A01-badge", "A01", "badge", "evdev",
                                     str(self.badge.dev.path))]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Devices, Inbox]]:
    devices = Devices(tmp_path)
    for d in (devices.keypad, devices.pad, devices.badge):
        d.dev.plug()
    inbox: Inbox = queue.Queue()
    link = EvdevLink(devices.configs, lambda: NOW_US, opener=SocketSource, retry_s=0.01)
    link.start(inbox)
    try:
        opened = {take(inbox) for _ in range(3)}
        assert opened == {LinkState((d.id,), True, NOW_US, "opened") for d in devices.configs}
        yield devices, inbox
    finally:
        link.stop()
        for d in (devices.keypad, devices.pad, devices.badge):
            d.dev.unplug()


def take(inbox: Inbox) -> Item:
    return inbox.get(timeout=WAIT_S)


def test_staff_actions_reach_the_agent_as_key_actions(rig: tuple[Devices, Inbox]) -> None:
    devices, inbox = rig
    actions = ["call_next", "invite", "cancel_invite", "pause_toggle", "fault",
               "fault_cleared"]
    for i, action in enumerate(actions):
        devices.keypad.press(action, NOW_US + i * 1000)
    assert [take(inbox) for _ in actions] == [KeyAction("A01-keypad", a, NOW_US)
                                              for a in actions]


def test_a_citizen_keypad_pad_rates(rig: tuple[Devices, Inbox]) -> None:
    devices, inbox = rig
    devices.pad.press("rate", NOW_US, level="unsatisfied")
    devices.pad.press("rate", NOW_US + 500_000, level="satisfied")
    assert [take(inbox), take(inbox)] == [
        KeyAction("A01-pad", "rate", NOW_US, "unsatisfied"),
        KeyAction("A01-pad", "rate", NOW_US, "satisfied")]


def test_a_badge_read_reaches_the_agent_as_the_card(rig: tuple[Devices, Inbox]) -> None:
    devices, inbox = rig
    devices.badge.read("07000037", NOW_US)
    devices.badge.read("Ab12", NOW_US + 2_000_000)
    assert [take(inbox), take(inbox)] == [BadgeRead("A01-badge", "07000037", NOW_US),
                                          BadgeRead("A01-badge", "Ab12", NOW_US)]


def test_unplugging_a_keypad_is_seen_and_so_is_plugging_it_back(
        rig: tuple[Devices, Inbox]) -> None:
    devices, inbox = rig
    devices.keypad.dev.unplug()
    gone = take(inbox)
    assert isinstance(gone, LinkState) and not gone.online and gone.why == "unplugged"
    devices.keypad.press("invite", NOW_US)  # into the void, as with a real unplugged keypad
    assert devices.keypad.dev.dropped == 4
    devices.keypad.dev.plug()
    back = take(inbox)
    assert isinstance(back, LinkState) and back.online and back.devices == ("A01-keypad",)
    devices.keypad.dev.accept()
    devices.keypad.press("invite", NOW_US)
    assert take(inbox) == KeyAction("A01-keypad", "invite", NOW_US)


@given(st.sampled_from(sorted({(p.action, p.level) for p in STAFF_KEYMAP.values()}
                              | {(p.action, p.level) for p in PAD_KEYMAPS[5].values()})))
def test_every_mapped_action_round_trips_through_the_keymap(
        wanted: tuple[str, str | None]) -> None:
    keymap = STAFF_KEYMAP if wanted[0] != "rate" else PAD_KEYMAPS[5]
    decoder = KeyDecoder(keymap)
    events = key_events(code_for(keymap, *wanted), NOW_US)
    got = [out for e in events if (out := decoder.feed(_event(e[0] // 10**6, e[0] % 10**6,
                                                               *e[1:]))) is not None]
    assert [(p.action, p.level) for p in got] == [wanted]


@given(st.text("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
               min_size=1, max_size=32))
def test_any_card_number_is_read_back_as_typed(card: str) -> None:
    decoder = BadgeDecoder()
    got = [out for e in card_events(card, NOW_US)
           if (out := decoder.feed(_event(e[0] // 10**6, e[0] % 10**6, *e[1:]))) is not None]
    assert [c.text for c in got] == [card]
    assert not decoder.rejections


def test_a_badge_reader_refuses_to_type_what_no_card_holds() -> None:
    with pytest.raises(ValueError, match="digits and letters"):
        card_events("12-34", NOW_US)

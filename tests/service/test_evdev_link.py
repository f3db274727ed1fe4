"""The evdev link's own logic, run for real (its thread, selector, reopening, the keymap),
with in-memory devices standing in for python-evdev: there is no /dev/uinput here. The
opt-in test at the end reads a virtual keypad made with evdev.UInput through the real path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import time
from collections import deque
from collections.abc import Callable, Iterator

import pytest
from evdev import InputEvent, ecodes

from edge_agent.config import ConfigError, DeviceConfig, HallConfig
from edge_agent.service.evdev_link import EvdevLink, evdev_links, why_failed
from edge_agent.service.inputs import BadgeRead, Inbox, Item, KeyAction, LinkState
from tests.service.test_keymap import tap, typed

PAD = "/dev/input/by-id/usb-pad-event-kbd"
KEYPAD = "/dev/input/by-id/usb-keypad-event-kbd"
BADGE = "/dev/input/by-id/usb-badge-event-kbd"
NOW_US = 1_772_000_000_000_000
WAIT_S = 10.0  # the most a test waits for the link's thread before it fails


class FakeInput:
    """An input device in memory: events fed from the test, a pipe to make select() wake."""

    def __init__(self, busy: bool = False) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self._events: deque[InputEvent] = deque()
        self.gone = False
        self.busy = busy  # grabbed by another program
        self.grabbed = False
        self.closed = False

    def feed(self, events: list[InputEvent]) -> None:
        self._events.extend(events)
        os.write(self._w, b"x")

    def unplug(self) -> None:
        self.gone = True
        os.write(self._w, b"x")

    def fileno(self) -> int:
        return self._r

    def read(self) -> list[InputEvent]:
        if self.gone:
            raise OSError(errno.ENODEV, "No such device")
        with contextlib.suppress(BlockingIOError):  # an earlier read took the byte already
            os.read(self._r, 4096)
        out = []
        while self._events:
            out.append(self._events.popleft())
        if not out:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return out

    def grab(self) -> None:
        if self.busy:
            raise OSError(errno.EBUSY, "Device or resource busy")
        self.grabbed = True

    def close(self) -> None:
        if self.closed:  # opened and closed again while it stays busy
            return
        self.closed = True
        os.close(self._r)
        os.close(self._w)


class FakeBus:
    """The /dev/input/by-id folder: devices appear and vanish; the link's opener."""

    def __init__(self) -> None:
        self.present: dict[str, FakeInput] = {}
        self.opened: list[FakeInput] = []

    def plug(self, path: str, busy: bool = False) -> FakeInput:
        device = self.present[path] = FakeInput(busy)
        return device

    def unplug(self, path: str) -> None:
        self.present.pop(path).unplug()

    def __call__(self, path: str) -> FakeInput:
        if path not in self.present:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        self.opened.append(self.present[path])
        return self.present[path]


def dev(did: str, kind: str, port: str | None, keys: int = 2, link: str = "evdev"
        ) -> DeviceConfig:
    return DeviceConfig(id=did, counter="A01", kind=kind, link=link, port=port, keys=keys)


DEVICES = [dev("A01-pad", "pad", PAD), dev("A01-keypad", "keypad", KEYPAD),
           dev("A01-badge", "badge", BADGE)]


@pytest.fixture
def bus() -> FakeBus:
    return FakeBus()


@pytest.fixture
def inbox() -> Inbox:
    return queue.Queue()


@pytest.fixture
def run_link(bus: FakeBus, inbox: Inbox) -> Iterator[Callable[[list[DeviceConfig]], EvdevLink]]:
    links: list[EvdevLink] = []

    def start(devices: list[DeviceConfig]) -> EvdevLink:
        link = EvdevLink(devices, lambda: NOW_US, opener=bus, retry_s=0.005)
        links.append(link)
        link.start(inbox)
        return link

    yield start
    for link in links:
        link.stop()


def take(inbox: Inbox, n: int = 1) -> list[Item]:
    return [inbox.get(timeout=WAIT_S) for _ in range(n)]


def wait_until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, "the link did not get there"
        time.sleep(0.002)


def online(device: str, why: str = "opened") -> LinkState:
    return LinkState((device,), True, NOW_US, why)


def test_keys_of_each_kind_reach_the_inbox_as_what_they_mean(
        bus: FakeBus, inbox: Inbox, run_link: Callable[[list[DeviceConfig]], EvdevLink]) -> None:
    pad, keypad, badge = bus.plug(PAD), bus.plug(KEYPAD), bus.plug(BADGE)
    link = run_link(DEVICES)
    assert sorted(take(inbox, 3), key=str) == sorted(
        [online("A01-pad"), online("A01-keypad"), online("A01-badge")], key=str)
    assert pad.grabbed and keypad.grabbed and badge.grabbed

    pad.feed(tap(ecodes.KEY_KP3) + tap(ecodes.KEY_KP2))  # KP2: nothing on a 2-key pad
    assert take(inbox) == [KeyAction("A01-pad", "rate", NOW_US, "unsatisfied")]
    keypad.feed(tap(ecodes.KEY_KPENTER))
    assert take(inbox) == [KeyAction("A01-keypad", "call_next", NOW_US)]
    badge.feed(typed("04A1B2"))
    assert take(inbox) == [BadgeRead("A01-badge", "04A1B2", NOW_US)]

    health = link.health()
    assert health["running"] is True
    assert health["devices"]["A01-pad"] == {
        "kind": "pad", "path": PAD, "open": True, "events": 10, "actions": 1,
        "badge_reads": 0, "garbage": 1, "rejections": {"unmapped_key": 1}, "reopens": 0,
        "open_failures": 0, "last_error": None}
    assert health["devices"]["A01-badge"]["badge_reads"] == 1
    assert link.send("A01-pad", b"\x01", ack=False) is False
    assert inbox.empty()


def test_unplug_is_offline_once_and_plugging_back_is_online_and_events_flow(
        bus: FakeBus, inbox: Inbox, run_link: Callable[[list[DeviceConfig]], EvdevLink]) -> None:
    first = bus.plug(PAD)
    link = run_link(DEVICES[:1])
    assert take(inbox) == [online("A01-pad")]

    bus.unplug(PAD)
    assert take(inbox) == [LinkState(("A01-pad",), False, NOW_US, "unplugged")]
    assert first.closed
    # It keeps looking for the path; those failures are not reported again.
    wait_until(lambda: link.health()["devices"]["A01-pad"]["open_failures"] >= 5)
    assert link.health()["devices"]["A01-pad"]["open"] is False
    assert link.health()["devices"]["A01-pad"]["last_error"] == f"{PAD} not found"

    again = bus.plug(PAD)
    assert take(inbox) == [online("A01-pad", "plugged in again")]
    assert again.grabbed
    again.feed(tap(ecodes.KEY_KP1))
    assert take(inbox) == [KeyAction("A01-pad", "rate", NOW_US, "satisfied")]
    assert link.health()["devices"]["A01-pad"]["reopens"] == 1
    assert inbox.empty()


def test_a_device_missing_at_start_is_offline_then_online_when_its_path_appears(
        bus: FakeBus, inbox: Inbox, run_link: Callable[[list[DeviceConfig]], EvdevLink]) -> None:
    link = run_link(DEVICES[1:2])
    assert take(inbox) == [LinkState(("A01-keypad",), False, NOW_US, f"{KEYPAD} not found")]
    wait_until(lambda: link.health()["devices"]["A01-keypad"]["open_failures"] >= 3)
    keypad = bus.plug(KEYPAD)
    assert take(inbox) == [online("A01-keypad")]
    keypad.feed(tap(ecodes.KEY_KP0))
    assert take(inbox) == [KeyAction("A01-keypad", "pause_toggle", NOW_US)]


def test_a_device_grabbed_by_another_program_is_offline_until_it_can_be_grabbed(
        bus: FakeBus, inbox: Inbox, run_link: Callable[[list[DeviceConfig]], EvdevLink]) -> None:
    busy = bus.plug(PAD, busy=True)
    link = run_link(DEVICES[:1])
    assert take(inbox) == [LinkState(("A01-pad",), False, NOW_US,
                                     f"{PAD}: grabbed by another program")]
    wait_until(lambda: link.health()["devices"]["A01-pad"]["open_failures"] >= 3)
    assert busy.closed  # not left open while it is not ours
    bus.plug(PAD)
    assert take(inbox) == [online("A01-pad")]


def test_a_card_half_typed_when_the_reader_is_unplugged_is_garbage_not_a_card(
        bus: FakeBus, inbox: Inbox, run_link: Callable[[list[DeviceConfig]], EvdevLink]) -> None:
    badge = bus.plug(BADGE)
    link = run_link(DEVICES[2:])
    take(inbox)
    badge.feed(typed("1234", enter=None))
    wait_until(lambda: link.health()["devices"]["A01-badge"]["events"] == 20)
    bus.unplug(BADGE)
    assert take(inbox) == [LinkState(("A01-badge",), False, NOW_US, "unplugged")]
    again = bus.plug(BADGE)
    take(inbox)
    again.feed(tap(ecodes.KEY_ENTER) + typed("99"))
    assert take(inbox) == [BadgeRead("A01-badge", "99", NOW_US)]
    assert link.health()["devices"]["A01-badge"]["rejections"] == {"incomplete": 1, "empty": 1}


def test_stop_ends_the_thread_and_closes_the_devices(
        bus: FakeBus, inbox: Inbox) -> None:
    pad = bus.plug(PAD)
    link = EvdevLink(DEVICES[:1], lambda: NOW_US, opener=bus, retry_s=0.005)
    link.start(inbox)
    take(inbox)
    link.stop()
    link.stop()  # twice is harmless
    assert pad.closed
    assert link.health()["running"] is False


@pytest.mark.parametrize(("code", "why"), [
    (errno.ENODEV, "unplugged"),
    (errno.EACCES, f"{PAD}: permission denied (the agent's user needs the group input)"),
    (errno.ENOTTY, f"{PAD}: not an input device"),
    (errno.EIO, f"{PAD}: read failed: Input/output error")])
def test_why_a_device_is_offline_is_said_precisely(code: int, why: str) -> None:
    assert why_failed(PAD, OSError(code, os.strerror(code)), opening=False) == why


# --- the factory -----------------------------------------------------------------------


def hall(*devices: DeviceConfig) -> HallConfig:
    return HallConfig(hall_id="test", devices={d.id: d for d in devices})


def test_one_link_for_every_evdev_device_and_none_without() -> None:
    serial = dev("A02-pad", "pad", "/dev/ttyACM0", link="usb")
    links = evdev_links(hall(*DEVICES, serial), lambda: NOW_US)
    assert [link.name for link in links] == ["evdev"]
    assert set(links[0].health()["devices"]) == {"A01-pad", "A01-keypad", "A01-badge"}
    assert evdev_links(hall(serial), lambda: NOW_US) == []


@pytest.mark.parametrize(("devices", "message"), [
    ([dev("A01-sign", "sign", PAD)], r"\[devices.A01-sign\] link: a sign cannot use link evdev"),
    ([dev("A01-pad", "pad", None)], r"\[devices.A01-pad\] port: missing; link evdev needs"),
    ([dev("A01-pad", "pad", PAD), dev("A01-kp", "keypad", PAD)],
     r"\[devices.A01-kp\] port: .* is already device A01-pad's")])
def test_a_device_the_link_cannot_serve_is_a_config_error(
        devices: list[DeviceConfig], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        evdev_links(hall(*devices), lambda: NOW_US)


# --- opt-in: a real virtual keypad through the kernel ----------------------------------


def uinput_usable() -> bool:
    return os.environ.get("WE_UINPUT") == "1" and os.access("/dev/uinput", os.W_OK)


@pytest.mark.skipif(not uinput_usable(), reason="needs WE_UINPUT=1 and a writable /dev/uinput")
def test_a_virtual_keypad_through_the_real_evdev(inbox: Inbox) -> None:
    from evdev import UInput

    keys = [ecodes.KEY_KP1, ecodes.KEY_KP3, ecodes.KEY_KPENTER]
    ui = UInput({ecodes.EV_KEY: keys}, name="window-eval test keypad")
    try:
        link = EvdevLink([dev("A01-pad", "pad", ui.device.path)], lambda: NOW_US, retry_s=0.05)
        link.start(inbox)
        try:
            assert take(inbox) == [online("A01-pad")]
            for value in (1, 0):
                ui.write(ecodes.EV_KEY, ecodes.KEY_KP1, value)
                ui.syn()  # type: ignore[no-untyped-call]
            assert take(inbox) == [KeyAction("A01-pad", "rate", NOW_US, "satisfied")]
            ui.close()  # type: ignore[no-untyped-call]
            assert take(inbox)[0] == LinkState(("A01-pad",), False, NOW_US, "unplugged")
        finally:
            link.stop()
    finally:
        ui.close()  # type: ignore[no-untyped-call]

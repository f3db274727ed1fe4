"""The evdev link: USB numeric keypads (citizen pads, staff keypads) and RFID badge readers.

One thread waits on every open device at once (selectors). Each device is opened by its
/dev/input/by-id/ path and grabbed, so its keys never reach the console or a desktop. Its
events go through its decoder (keymap.py) and what they mean goes on the inbox, stamped with
the agent clock: a KeyAction or a BadgeRead.

A device that cannot be read (unplugged: ENODEV) or opened (path missing, no permission,
grabbed by another program) is reported offline once, then its path is tried again every
`retry_s`; when it opens, it is reported online. Every successful open is reported online,
the first one at start included, so the core learns which devices are there.

The link talks to python-evdev through `InputSource` (fileno/read/grab/close), so its logic
runs for real in tests with in-memory devices. `open_input` opens a device node with
python-evdev (`EvdevDevice`) and a Unix socket, which the hall simulator serves where there is
no /dev/uinput, as a `SocketSource`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import evdev

from edge_agent.config import DeviceConfig, HallConfig
from edge_agent.rules.vocabulary import DeviceKind, DeviceLink
from edge_agent.service.checks import check_evdev_device
from edge_agent.service.inputs import BadgeRead, Inbox, KeyAction, LinkState
from edge_agent.service.keymap import BadgeDecoder, Card, Decoder, KeyDecoder, keymap_for
from edge_agent.service.socket_input import SocketSource, is_socket

RETRY_S = 1.0


class InputSource(Protocol):
    """An open input device. read() returns what is there (BlockingIOError if nothing);
    it raises OSError (ENODEV) once the device is gone."""

    def fileno(self) -> int: ...

    def read(self) -> list[evdev.InputEvent]: ...

    def grab(self) -> None: ...

    def close(self) -> None: ...


Opener = Callable[[str], InputSource]


class EvdevDevice:
    """python-evdev's InputDevice; read() returns a list so errors surface in read()."""

    def __init__(self, path: str) -> None:
        self._dev: evdev.InputDevice[str] = evdev.InputDevice(path)

    def fileno(self) -> int:
        return self._dev.fd

    def read(self) -> list[evdev.InputEvent]:
        return list(self._dev.read())

    def grab(self) -> None:
        self._dev.grab()

    def close(self) -> None:
        self._dev.close()


def open_input(path: str) -> InputSource:
    return SocketSource(path) if is_socket(path) else EvdevDevice(path)


def decoder_for(device: DeviceConfig) -> Decoder:
    if device.kind == DeviceKind.BADGE:
        return BadgeDecoder()
    return KeyDecoder(keymap_for(device.kind, device.keys))


def why_failed(path: str, exc: OSError, opening: bool) -> str:
    """The reason given with LinkState offline, for the log and the device_down event."""
    if exc.errno == errno.ENODEV:
        return "unplugged"
    if exc.errno == errno.ENOENT:
        return f"{path} not found"
    if exc.errno == errno.EACCES:
        return f"{path}: permission denied (the agent's user needs the group input)"
    if exc.errno == errno.EBUSY:
        return f"{path}: grabbed by another program"
    if exc.errno == errno.ENOTTY:
        return f"{path}: not an input device"
    verb = "open" if opening else "read"
    return f"{path}: {verb} failed: {exc.strerror or exc}"


@dataclass
class _Device:
    """One device as the link thread sees it; `stats` is also read by health()."""

    config: DeviceConfig
    path: str
    decoder: Decoder
    source: InputSource | None = None
    next_try: float = 0.0  # time.monotonic() of the next open attempt while closed
    opened: int = 0  # successful opens
    said_offline: bool = False  # offline reported since it was last online
    last_error: str | None = None
    stats: Counter[str] = field(default_factory=Counter)


class EvdevLink:
    """Link (inputs.py) for every device with link "evdev"."""

    name = "evdev"

    def __init__(self, devices: list[DeviceConfig], now_us: Callable[[], int],
                 opener: Opener = open_input, retry_s: float = RETRY_S) -> None:
        self._devices = [_Device(d, _port(d), decoder_for(d)) for d in devices]
        self._now_us = now_us
        self._open = opener
        self._retry_s = retry_s
        self._lock = threading.Lock()  # the devices' state, between the thread and health()
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._inbox: Inbox | None = None

    # --- Link --------------------------------------------------------------------------

    def start(self, inbox: Inbox) -> None:
        self._inbox = inbox
        self._thread = threading.Thread(target=self._run, name="evdev-link", daemon=True)
        self._thread.start()

    def send(self, device: str, frame: bytes, *, ack: bool) -> bool:
        return False  # keypads and badge readers have nothing to show

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def health(self) -> dict[str, Any]:
        with self._lock:
            devices = {d.config.id: _device_health(d) for d in self._devices}
        running = self._thread is not None and self._thread.is_alive()
        return {"running": running, "devices": devices}

    # --- the thread --------------------------------------------------------------------

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._wake_r, selectors.EVENT_READ, None)
            try:
                while not self._stopping.is_set():
                    self._open_due(selector)
                    for key, _ in selector.select(self._wait_s()):
                        if key.data is None:
                            os.read(self._wake_r, 64)
                        else:
                            self._read(key.data, selector)
            finally:
                for device in self._devices:
                    if device.source is not None:
                        _close(device.source)

    def _wait_s(self) -> float | None:
        """Until the next open attempt is due; None (no timeout) when all are open."""
        due = [d.next_try for d in self._devices if d.source is None]
        return max(0.0, min(due) - time.monotonic()) if due else None

    def _open_due(self, selector: selectors.BaseSelector) -> None:
        now = time.monotonic()
        for device in self._devices:
            if device.source is None and device.next_try <= now:
                self._try_open(device, selector)

    def _try_open(self, device: _Device, selector: selectors.BaseSelector) -> None:
        try:
            source = self._open(device.path)
        except OSError as exc:
            self._closed(device, why_failed(device.path, exc, opening=True))
            return
        try:
            source.grab()
        except OSError as exc:
            _close(source)
            self._closed(device, why_failed(device.path, exc, opening=True))
            return
        with self._lock:
            device.source = source
            device.opened += 1
            device.said_offline = False
        selector.register(source.fileno(), selectors.EVENT_READ, device)
        self._put(LinkState((device.config.id,), True, self._now_us(),
                            "plugged in again" if device.opened > 1 else "opened"))

    def _read(self, device: _Device, selector: selectors.BaseSelector) -> None:
        assert device.source is not None
        try:
            events = device.source.read()
        except BlockingIOError:
            return
        except OSError as exc:
            selector.unregister(device.source.fileno())
            _close(device.source)
            self._closed(device, why_failed(device.path, exc, opening=False))
            return
        with self._lock:
            outputs = [out for ev in events if (out := device.decoder.feed(ev)) is not None]
            device.stats["events"] += len(events)
            device.stats["actions"] += sum(not isinstance(o, Card) for o in outputs)
            device.stats["badge_reads"] += sum(isinstance(o, Card) for o in outputs)
        for out in outputs:
            t_us = self._now_us()
            self._put(BadgeRead(device.config.id, out.text, t_us) if isinstance(out, Card)
                      else KeyAction(device.config.id, out.action, t_us, out.level))

    def _closed(self, device: _Device, why: str) -> None:
        """The device is not open (any more): say so once, try again later."""
        with self._lock:
            device.source = None
            device.decoder.reset()
            device.last_error = why
            device.stats["open_failures"] += 1
            tell = not device.said_offline
            device.said_offline = True
        device.next_try = time.monotonic() + self._retry_s
        if tell:
            self._put(LinkState((device.config.id,), False, self._now_us(), why))

    def _put(self, item: KeyAction | BadgeRead | LinkState) -> None:
        assert self._inbox is not None
        self._inbox.put(item)


def _close(source: InputSource) -> None:
    with contextlib.suppress(OSError):  # a device gone already: nothing more to learn
        source.close()


def _device_health(d: _Device) -> dict[str, Any]:
    return {
        "kind": d.config.kind, "path": d.path, "open": d.source is not None,
        "events": d.stats["events"], "actions": d.stats["actions"],
        "badge_reads": d.stats["badge_reads"],
        "garbage": sum(d.decoder.rejections.values()),
        "rejections": dict(d.decoder.rejections),
        "reopens": max(0, d.opened - 1), "open_failures": d.stats["open_failures"],
        "last_error": d.last_error,
    }


def _port(device: DeviceConfig) -> str:
    return check_evdev_device(device, {})


def evdev_links(config: HallConfig, now_us: Callable[[], int]) -> list[EvdevLink]:
    """One link for all of the hall's evdev devices, or none if it has none."""
    devices = [d for d in config.devices.values() if d.link == DeviceLink.EVDEV]
    paths: dict[str, str] = {}
    for d in devices:
        check_evdev_device(d, paths)
    return [EvdevLink(devices, now_us)] if devices else []

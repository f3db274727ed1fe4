"""A simulated hall's devices: per counter a pad (and optionally a pause sign) running the
firmware, a staff keypad and a badge reader, laid out over the three pad links.

Counter i takes link `links[i % len(links)]`: "usb" gives its pad a pty of its own, "rs485"
puts it on a shared bus (`bus_size` pads a bus, addresses 1, 3, 5 ...; a sign takes the
next address), "mqtt" makes it a Wi-Fi pad on the broker. Keypads and badge readers are
evdev devices (input_device.py). Everything lives under one folder:

    FOLDER/dev/<device> or dev/bus<n>   serial ports (symlinks to pty slaves)
    FOLDER/input/<device>               keypads and badge readers
    FOLDER/flash/<device>/              each pad's flash (config.json, state, outbox)

Device keys are derived from the seed, so a hall is the same from run to run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.rules.vocabulary import FRAME_LINKS, DeviceKind, DeviceLink
from edge_agent.service.keymap import STAFF_KEYMAP
from edge_agent.wire.keys import mqtt_password
from tools.simhall.devices import SimPad
from tools.simhall.input_device import SocketInput
from tools.simhall.keypad import BadgeReader, Keypad
from tools.simhall.mqtt_port import MqttBoard
from tools.simhall.people import Desk
from tools.simhall.serial_port import BusPort, PtyPort, UsbBoard

LINKS = FRAME_LINKS


@dataclass(frozen=True)
class Layout:
    hall_id: str = "sim"
    links: tuple[str, ...] = LINKS
    bus_size: int = 4
    keys: int = 2
    signs: bool = False
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_keepalive_s: int = 30  # the board's; the simulator raises it with the speed

    def __post_init__(self) -> None:
        bad = [link for link in self.links if link not in LINKS]
        if bad or not self.links:
            raise ValueError(f"links: each of {', '.join(LINKS)}, got {self.links!r}")
        if not 1 <= self.bus_size <= 100:
            raise ValueError(f"bus_size: 1..100 pads a bus, got {self.bus_size}")
        if self.keys not in (2, 5):
            raise ValueError(f"keys: 2 or 5, got {self.keys}")


@dataclass
class Station:
    """One counter: its people's desk and its devices."""

    desk: Desk
    link: str
    pad: SimPad
    sign: SimPad | None
    keypad: Keypad
    badge: BadgeReader

    @property
    def counter(self) -> str:
        return self.desk.counter.id


def device_key(seed: int, device: str) -> str:
    return hashlib.sha256(f"simhall:{seed}:{device}".encode()).hexdigest()


class SimHall:
    def __init__(self, layout: Layout, desks: list[Desk], folder: Path, seed: int) -> None:
        self.layout = layout
        self.folder = folder.absolute()
        self.seed = seed
        self.buses: list[BusPort] = []
        self.usb: list[PtyPort] = []
        self.mqtt: list[MqttBoard] = []
        self.devices: dict[str, dict[str, Any]] = {}  # [devices.ID] tables of the config
        self.stations = {d.counter.id: self._station(i, d) for i, d in enumerate(desks)}

    # --- building -------------------------------------------------------------------------

    def _station(self, i: int, desk: Desk) -> Station:
        counter = desk.counter.id
        link = self.layout.links[i % len(self.layout.links)]
        address = self._next_address(link)
        pad = self._pad(f"{counter}-pad", counter, DeviceKind.PAD, link, address)
        sign = (self._pad(f"{counter}-sign", counter, DeviceKind.SIGN, link, address + 1)
                if self.layout.signs else None)
        keypad = Keypad(f"{counter}-keypad", self._input(f"{counter}-keypad", counter,
                                                           DeviceKind.KEYPAD),
                        STAFF_KEYMAP)
        badge = BadgeReader(f"{counter}-badge", self._input(f"{counter}-badge", counter,
                                                                DeviceKind.BADGE))
        return Station(desk, link, pad, sign, keypad, badge)

    def _next_address(self, link: str) -> int:
        if link != DeviceLink.RS485:
            return 1
        per_pad = 2 if self.layout.signs else 1
        taken = sum(len(b.taps) for b in self.buses[-1:])
        if not self.buses or taken >= self.layout.bus_size * per_pad:
            self.buses.append(BusPort(self.folder / "dev" / f"bus{len(self.buses)}"))
            taken = 0
        return 1 + taken

    def _pad(self, device: str, counter: str, kind: str, link: str, address: int) -> SimPad:
        key = device_key(self.seed, device)
        cfg: dict[str, Any] = {"device": device, "counter": counter, "hall": self.layout.hall_id,
                               "address": address, "keys": self.layout.keys, "key": key,
                               "link": link, "board": "pico_w" if link == "mqtt" else "pico"}
        # The address goes in on every link: the agent refuses a frame whose address is not
        # its device's (wrong_address), and a USB or MQTT sign sits at the pad's address + 1.
        table: dict[str, Any] = {"counter": counter, "kind": kind, "link": link,
                                 "keys": self.layout.keys, "key": key, "address": address}
        if link == DeviceLink.USB:
            port = PtyPort(self.folder / "dev" / device)
            self.usb.append(port)
            board: Any = UsbBoard(port)
            table["port"] = str(port.path)
        elif link == DeviceLink.RS485:
            bus = self.buses[-1]
            board = bus.board(address)
            table["port"] = str(bus.port.path)
        else:
            password = mqtt_password(key)
            cfg["mqtt"] = {"host": self.layout.mqtt_host, "port": self.layout.mqtt_port,
                           "user": device, "password": password}
            cfg["wifi"] = {"ssid": "sim-hall", "password": "unused"}
            board = MqttBoard(self.layout.mqtt_host, self.layout.mqtt_port, device, password,
                              keepalive_s=self.layout.mqtt_keepalive_s)
            self.mqtt.append(board)
        self.devices[device] = table
        return SimPad(cfg, self.folder / "flash" / device, board)

    def _input(self, device: str, counter: str, kind: str) -> SocketInput:
        dev = SocketInput(self.folder / "input" / device)
        self.devices[device] = {"counter": counter, "kind": kind, "link": DeviceLink.EVDEV,
                                "port": str(dev.path)}
        return dev

    # --- running --------------------------------------------------------------------------

    def pads(self) -> Iterator[SimPad]:
        for s in self.stations.values():
            yield s.pad
            if s.sign is not None:
                yield s.sign

    def inputs(self) -> Iterator[SocketInput]:
        for s in self.stations.values():
            yield s.keypad.dev
            yield s.badge.dev

    def plug_in(self, now_ms: int) -> None:
        """Every device on: buses and input devices plugged, pads powered (USB pads plug
        their port as they power on)."""
        for bus in self.buses:
            bus.port.plug()
        for dev in self.inputs():
            dev.plug()
        for pad in self.pads():
            pad.power_on(now_ms)

    def unplug_all(self) -> None:
        for pad in self.pads():
            pad.power_off()
        for dev in self.inputs():
            dev.unplug()
        for bus in self.buses:
            bus.port.unplug()

    def step(self, now_ms: int) -> None:
        """Read every line, let input devices take their readers, run every pad."""
        for bus in self.buses:
            bus.pump()
        for dev in self.inputs():
            dev.accept()
        for pad in self.pads():
            pad.advance(now_ms)

    def wait_fds(self) -> list[int]:
        """What to wait on between steps: serial lines, MQTT sockets, input listeners."""
        fds = [b.port.fileno() for b in self.buses if b.port.plugged]
        fds += [p.fileno() for p in self.usb if p.plugged]
        fds += [fd for m in self.mqtt if (fd := m.fileno()) is not None]
        fds += [fd for d in self.inputs() if (fd := d.fileno()) is not None]
        return fds

"""A core on a real journal file with a manual clock and recording links, and pad frames
built with the wire codec: for driving edge_agent.service.core through its public surface."""

from __future__ import annotations

import struct
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge_agent.config import HallConfig, parse_config
from edge_agent.journal import Journal
from edge_agent.rules.calendar import to_us
from edge_agent.service.clock import ManualClock
from edge_agent.service.core import Core
from edge_agent.wire import Decoder, DeviceKey, Kind, seal, wire
from edge_agent.wire.protocol import LEVELS

TZ = ZoneInfo("Asia/Shanghai")
MONDAY_9 = to_us(datetime(2026, 11, 23, 9, 0, tzinfo=TZ))
PAD_KEY = bytes(range(32))
SIGN_KEY = bytes(range(1, 33))
HALL = f"""
[hall]
id = "test-hall"
[counters.A01]
name = "Counter one"
[devices.A01-pad]
counter = "A01"
link = "usb"
port = "/dev/ttyPAD"
key = "{PAD_KEY.hex()}"
[devices.A01-sign]
counter = "A01"
kind = "sign"
link = "usb"
port = "/dev/ttySIGN"
key = "{SIGN_KEY.hex()}"
[devices.A01-keypad]
counter = "A01"
kind = "keypad"
link = "evdev"
port = "/dev/input/by-id/keypad"
[devices.A01-badge]
counter = "A01"
kind = "badge"
link = "evdev"
port = "/dev/input/by-id/badge"
[staff.S01]
name = "Zhang"
card = "1001"
id_hash = "h:staff1"
[staff.S02]
name = "Li"
card = "1002"
"""


class RecordingLink:
    """A link that keeps what the core sends, with the journal's head at that moment."""

    def __init__(self, name: str, journal: Journal) -> None:
        self.name = name
        self.journal = journal
        self.sent: list[tuple[str, bytes, int]] = []

    def start(self, inbox: Any) -> None:
        pass

    def send(self, device: str, frame: bytes, *, ack: bool) -> bool:
        self.sent.append((device, frame, self.journal.head_seq))
        return True

    def stop(self) -> None:
        pass

    def health(self) -> dict[str, Any]:
        return {"sent": len(self.sent)}

    def decoded(self, device: str, key: bytes) -> list[Any]:
        decoder = Decoder(lambda a: DeviceKey(device, key), None, upstream=False)
        return [decoder.decode(f) for d, f, _ in self.sent if d == device]


def config(extra: str = "") -> HallConfig:
    return parse_config(HALL + extra)


def make_core(path: Path, clock: ManualClock, cfg: HallConfig | None = None) -> Core:
    cfg = cfg or config()
    journal = Journal(path)
    core = Core(cfg, journal, boot=1, clock=clock)
    for port in ("/dev/ttyPAD", "/dev/ttySIGN"):
        core.links[f"serial:{port}"] = RecordingLink(f"serial:{port}", journal)
    return core


class Pad:
    """A pad's side of the wire: sealed frames with its own boot and seq."""

    def __init__(self, key: bytes = PAD_KEY, boot: int = 1) -> None:
        self.key, self.boot, self.seq = key, boot, 0

    def frame(self, kind: Kind, payload: bytes, seq: int | None = None) -> bytes:
        if seq is None:
            self.seq += 1
            seq = self.seq
        return wire(seal(self.key, 1, kind, self.boot, seq, payload))

    def press(self, level: str = "satisfied", age_ms: int = 0, seq: int | None = None) -> bytes:
        key = 0 if level == "satisfied" else 1
        return self.frame(Kind.PRESS, struct.pack(">BIBB", 0, age_ms, key,
                                                  LEVELS.index(level)), seq)

    def pause_key(self) -> bytes:
        return self.frame(Kind.PAUSE_KEY, struct.pack(">BI", 0, 0))

    def heartbeat(self) -> bytes:
        return self.frame(Kind.HEARTBEAT, struct.pack(">IBBB", 10, 0, 1, 0))

    def selftest(self, failed: int = 0) -> bytes:
        return self.frame(Kind.SELFTEST, struct.pack(">BIBBBB", 0, 0, 1, 2, 0x3F & ~failed,
                                                     failed))

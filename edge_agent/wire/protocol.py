"""Protocol v1 constants and the typed messages (docs/protocol.md)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from edge_agent.rules.vocabulary import Level, Screen

VERSION = 1
HEADER = 9
TAG = 8
CRC = 2
MAX_PAYLOAD = 64
MIN_RAW = HEADER + TAG + CRC
MAX_RAW = MIN_RAW + MAX_PAYLOAD
MAX_TEXT = 48
AGE_LOWER_BOUND = 0x01


class Kind(enum.IntEnum):
    PRESS = 0x01
    PAUSE_KEY = 0x02
    HEARTBEAT = 0x03
    SELFTEST = 0x04
    FAULT = 0x05
    ACK = 0x81
    DISPLAY = 0x82
    POLL = 0x83

    @property
    def upstream(self) -> bool:
        return not self.value & 0x80

    @property
    def is_event(self) -> bool:
        """Events are acked and kept by the pad until then."""
        return self in (Kind.PRESS, Kind.PAUSE_KEY, Kind.SELFTEST, Kind.FAULT)


LEVELS = tuple(Level)  # a press's level number indexes this


class ScreenCode(enum.IntEnum):
    """A screen's number on the wire (the pad draws it with its own captions)."""

    CLOSED = 0
    WELCOME = 1
    INVITE = 2
    THANKS = 3
    PAUSED = 4


# The wire number of each screen the rules engine picks (a pad shows its welcome while its
# counter serves; the firmware draws the same screens: firmware/messages.py).
SCREEN_CODES = {Screen.CLOSED: ScreenCode.CLOSED, Screen.WELCOME: ScreenCode.WELCOME,
                Screen.SERVING: ScreenCode.WELCOME, Screen.INVITE: ScreenCode.INVITE,
                Screen.THANKS: ScreenCode.THANKS, Screen.PAUSED: ScreenCode.PAUSED}


CHECKS = ("config", "key", "flash", "keys_released", "display", "link")
FAULTS = {1: "key_stuck", 2: "display", 3: "flash", 4: "outbox_full", 5: "safe_mode"}


@dataclass(frozen=True)
class Press:
    key: int
    level: Level
    age_ms: int
    flags: int


@dataclass(frozen=True)
class PauseKey:
    age_ms: int
    flags: int


@dataclass(frozen=True)
class Heartbeat:
    uptime_s: int
    outbox: int
    screen: ScreenCode
    flags: int


@dataclass(frozen=True)
class SelfTest:
    age_ms: int
    flags: int
    firmware: int
    keys: int
    ok: tuple[str, ...]
    failed: tuple[str, ...]


@dataclass(frozen=True)
class Fault:
    age_ms: int
    flags: int
    code: str
    detail: int
    active: bool


@dataclass(frozen=True)
class Ack:
    boot: int
    seq: int


@dataclass(frozen=True)
class ScreenCommand:
    """A display frame's body: the screen to show and its caption."""

    screen: ScreenCode
    text: str


@dataclass(frozen=True)
class Poll:
    pass


Body = Press | PauseKey | Heartbeat | SelfTest | Fault | Ack | ScreenCommand | Poll


@dataclass(frozen=True)
class Message:
    device: str
    address: int
    kind: Kind
    boot: int
    seq: int
    body: Body
    # True when this (boot, seq) is the device's last accepted one: a retransmission whose
    # ack was lost. Ack it again (if the journal holds it), never count it again.
    duplicate: bool = False

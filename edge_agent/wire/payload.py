"""Payload bytes <-> typed bodies of protocol v1."""

from __future__ import annotations

import struct

from edge_agent.wire.protocol import (
    CHECKS,
    FAULTS,
    LEVELS,
    MAX_TEXT,
    Ack,
    Body,
    Fault,
    Heartbeat,
    Kind,
    PauseKey,
    Poll,
    Press,
    ScreenCode,
    ScreenCommand,
    SelfTest,
)

_EVENT = struct.Struct(">BI")


def _names(mask: int) -> tuple[str, ...]:
    return tuple(name for bit, name in enumerate(CHECKS) if mask & (1 << bit))


def parse(kind: Kind, data: bytes) -> Body | None:
    """The typed body, or None when the bytes do not fit the type."""
    if kind.is_event:
        if len(data) < _EVENT.size:
            return None
        flags, age = _EVENT.unpack_from(data)
        return _event(kind, flags, age, data[_EVENT.size :])
    if kind is Kind.HEARTBEAT and len(data) == 7:
        uptime, outbox, screen, flags = struct.unpack(">IBBB", data)
        if screen >= len(ScreenCode):
            return None
        return Heartbeat(uptime, outbox, ScreenCode(screen), flags)
    if kind is Kind.ACK and len(data) == 6:
        boot, seq = struct.unpack(">HI", data)
        return Ack(boot, seq)
    if kind is Kind.DISPLAY and 1 <= len(data) <= 1 + MAX_TEXT and data[0] < len(ScreenCode):
        try:
            return ScreenCommand(ScreenCode(data[0]), data[1:].decode("utf-8"))
        except UnicodeDecodeError:
            return None
    if kind is Kind.POLL and not data:
        return Poll()
    return None


def _event(kind: Kind, flags: int, age: int, rest: bytes) -> Body | None:
    if kind is Kind.PRESS and len(rest) == 2 and rest[1] < len(LEVELS) and rest[0] < 5:
        return Press(rest[0], LEVELS[rest[1]], age, flags)
    if kind is Kind.PAUSE_KEY and not rest:
        return PauseKey(age, flags)
    if kind is Kind.SELFTEST and len(rest) == 4:
        firmware, keys, ok, fail = rest
        return SelfTest(age, flags, firmware, keys, _names(ok), _names(fail))
    if kind is Kind.FAULT and len(rest) == 3 and rest[0] in FAULTS and rest[2] in (0, 1):
        return Fault(age, flags, FAULTS[rest[0]], rest[1], bool(rest[2]))
    return None


def ack(boot: int, seq: int) -> bytes:
    return struct.pack(">HI", boot, seq)


def display(screen: ScreenCode, text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > MAX_TEXT:
        # Cut at a character boundary so the pad never gets half a character.
        data = data[:MAX_TEXT].decode("utf-8", "ignore").encode("utf-8")
    return bytes([screen]) + data

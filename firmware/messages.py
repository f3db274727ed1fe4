"""Message types of protocol v1 and their payloads (docs/protocol.md)."""

import struct

# Pad to agent (bit 7 clear).
PRESS = 0x01
PAUSE_KEY = 0x02
HEARTBEAT = 0x03
SELFTEST = 0x04
FAULT = 0x05
# Agent to pad (bit 7 set), so a frame can never be reflected back as the other direction.
ACK = 0x81
DISPLAY = 0x82
POLL = 0x83

EVENTS = (PRESS, PAUSE_KEY, SELFTEST, FAULT)

# Rating levels, in the order of the 5-key pad.
VERY_SATISFIED = 0
SATISFIED = 1
BASIC = 2
UNSATISFIED = 3
VERY_UNSATISFIED = 4
LEVEL_NAMES = ("very_satisfied", "satisfied", "basic", "unsatisfied", "very_unsatisfied")
TWO_KEY_LEVELS = (SATISFIED, UNSATISFIED)

# Screens a display command selects.
CLOSED = 0
WELCOME = 1
INVITE = 2
THANKS = 3
PAUSED = 4
SCREEN_NAMES = ("closed", "welcome", "invite", "thanks", "paused")
MAX_TEXT = 48

# Event flags.
AGE_LOWER_BOUND = 0x01  # the event outlived a reboot: its age misses the time the pad was off

# Self-test checks (bit numbers of the ok/fail masks).
CHECK_CONFIG = 0x01
CHECK_KEY = 0x02
CHECK_FLASH = 0x04
CHECK_KEYS_RELEASED = 0x08
CHECK_DISPLAY = 0x10
CHECK_LINK = 0x20

# Fault codes.
FAULT_KEY_STUCK = 1
FAULT_DISPLAY = 2
FAULT_FLASH = 3
FAULT_OUTBOX_FULL = 4
FAULT_SAFE_MODE = 5

PAUSE_KEY_INDEX = 15  # detail of a key_stuck fault for the pause key

FIRMWARE = 1
MAX_AGE = 0xFFFFFFFF


def level_of(keys: int, index: int) -> int:
    """The rating level of key `index` on a pad with `keys` (2 or 5) rating keys."""
    return TWO_KEY_LEVELS[index] if keys == 2 else index


def press(index: int, level: int) -> bytes:
    """Body of a press event; flags and age go in front at each transmission."""
    return bytes((index, level))


def event(flags: int, age_ms: int, body: bytes) -> bytes:
    """Payload of an event (press, pause_key, selftest, fault): flags, age in ms, body."""
    return struct.pack(">BI", flags, min(age_ms, MAX_AGE)) + body


def heartbeat(uptime_s: int, outbox: int, screen: int, flags: int) -> bytes:
    return struct.pack(">IBBB", min(uptime_s, MAX_AGE), min(outbox, 255), screen, flags)


def selftest(keys: int, ok: int, fail: int) -> bytes:
    return bytes((FIRMWARE, keys, ok, fail))


def fault(code: int, detail: int, active: bool) -> bytes:
    return bytes((code, detail, 1 if active else 0))


def ack(boot: int, seq: int) -> bytes:
    return struct.pack(">HI", boot, seq)


def parse_ack(body: bytes) -> tuple[int, int] | None:
    if len(body) != 6:
        return None
    boot, seq = struct.unpack(">HI", body)
    return boot, seq


def parse_display(body: bytes) -> tuple[int, str] | None:
    if not body or body[0] >= len(SCREEN_NAMES) or len(body) > 1 + MAX_TEXT:
        return None
    try:
        text = body[1:].decode("utf-8")
    except UnicodeError:
        return None
    return body[0], text

"""What a key on a USB keypad or an RFID badge reader means (pure logic, no I/O).

Both decoders take ``evdev.InputEvent`` objects one at a time and return what the keys
mean: a :class:`Press` (a keypad's action) or a :class:`Card` (a badge reader's number).
Only a key going down acts: auto-repeat (value 2) and key-up (value 0) never do, so a key
held down is one press. What cannot be used is counted in ``rejections`` by reason.

Default keymap (numeric keypads; codes from ``evdev.ecodes``)::

    citizen pad, keys = 2     KP1  satisfied (满意)        KP3  unsatisfied (不满意)
    citizen pad, keys = 5     KP1  very_satisfied (非常满意)   KP2  satisfied
                              KP3  basic                   KP4  unsatisfied
                              KP5  very_unsatisfied (非常不满意)
    staff keypad              KP_ENTER     call_next       KP_PLUS   invite (请评价)
                              KP_MINUS     cancel_invite   KP0       pause_toggle
                              KP_ASTERISK  fault           KP_SLASH  fault_cleared

The 2-key pad uses KP1 and KP3, not neighbours: a finger landing between them hits KP2, which
is counted as ``unmapped_key`` rather than taken as a rating. The 5-key order is the
protocol's level order (docs/protocol.md), KP1 being the best.

NumLock does not matter. The kernel reports KP digits whatever the NumLock LED says, but some
keypads apply NumLock themselves and then send the navigation twin of a key (KP1 -> END,
KP3 -> PAGEDOWN ...); each mapped KP digit also answers to its twin. KP5 has no twin: such a
keypad sends nothing for it with NumLock off (leave NumLock on for a 5-key pad).

Badge readers type the card number as key presses ending with Enter. :class:`BadgeDecoder`
keeps letters as typed (Shift gives upper case) and digits from either row; anything else in
a card spoils it. A half-typed card is dropped after ``timeout_us`` of silence (time comes from
the events' own time stamps), and a card longer than ``max_len`` is dropped whole: a partial
card is never returned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from evdev import InputEvent, ecodes

from edge_agent.rules.model import FIVE_LEVELS, DeviceKind, Level

KEY_DOWN = 1
BADGE_TIMEOUT_US = 1_000_000
BADGE_MAX_LEN = 32


@dataclass(frozen=True, slots=True)
class Press:
    """A keypad key's meaning: an action of inputs.KeyAction, with its level for "rate"."""

    action: str
    level: Level | None = None


@dataclass(frozen=True, slots=True)
class Card:
    """A card number typed completely by a badge reader."""

    text: str


Keymap = Mapping[int, Press]


class Decoder(Protocol):
    """Turns one device's events into meanings; the link keeps one per device."""

    rejections: Counter[str]

    def feed(self, event: InputEvent) -> Press | Card | None: ...

    def reset(self) -> None:
        """The device went away: forget what was half done (counting it)."""
        ...


# What a keypad that applies NumLock itself sends for a KP key with NumLock off.
NUMLOCK_OFF_TWIN: Mapping[int, int] = {
    ecodes.KEY_KP0: ecodes.KEY_INSERT,
    ecodes.KEY_KP1: ecodes.KEY_END,
    ecodes.KEY_KP2: ecodes.KEY_DOWN,
    ecodes.KEY_KP3: ecodes.KEY_PAGEDOWN,
    ecodes.KEY_KP4: ecodes.KEY_LEFT,
    ecodes.KEY_KP6: ecodes.KEY_RIGHT,
    ecodes.KEY_KP7: ecodes.KEY_HOME,
    ecodes.KEY_KP8: ecodes.KEY_UP,
    ecodes.KEY_KP9: ecodes.KEY_PAGEUP,
    ecodes.KEY_KPDOT: ecodes.KEY_DELETE,
}

_KP_DIGITS = (ecodes.KEY_KP0, ecodes.KEY_KP1, ecodes.KEY_KP2, ecodes.KEY_KP3, ecodes.KEY_KP4,
              ecodes.KEY_KP5, ecodes.KEY_KP6, ecodes.KEY_KP7, ecodes.KEY_KP8, ecodes.KEY_KP9)


def _with_twins(keys: Mapping[int, Press]) -> dict[int, Press]:
    out = dict(keys)
    for code, press in keys.items():
        if code in NUMLOCK_OFF_TWIN:
            out[NUMLOCK_OFF_TWIN[code]] = press
    return out


PAD_KEYMAPS: Mapping[int, Keymap] = {
    2: _with_twins({ecodes.KEY_KP1: Press("rate", Level.SATISFIED),
                    ecodes.KEY_KP3: Press("rate", Level.UNSATISFIED)}),
    5: _with_twins({_KP_DIGITS[i + 1]: Press("rate", level)
                    for i, level in enumerate(FIVE_LEVELS)}),
}
STAFF_KEYMAP: Keymap = _with_twins({
    ecodes.KEY_KPENTER: Press("call_next"),
    ecodes.KEY_KPPLUS: Press("invite"),
    ecodes.KEY_KPMINUS: Press("cancel_invite"),
    ecodes.KEY_KP0: Press("pause_toggle"),
    ecodes.KEY_KPASTERISK: Press("fault"),
    ecodes.KEY_KPSLASH: Press("fault_cleared"),
})


def keymap_for(kind: str, keys: int = 2) -> Keymap:
    """The default keymap of a keypad device: a citizen pad with `keys` keys, or a staff
    keypad. ValueError for anything else (a badge reader has no keymap)."""
    if kind == DeviceKind.KEYPAD:
        return STAFF_KEYMAP
    if kind == DeviceKind.PAD and keys in PAD_KEYMAPS:
        return PAD_KEYMAPS[keys]
    raise ValueError(f"no keymap for a {kind!r} with {keys} keys "
                     "(evdev keypads: kind pad with keys 2 or 5, or kind keypad)")


def _dropped(event: InputEvent) -> bool:
    """The kernel's buffer overflowed: events were lost before this one."""
    return event.type == ecodes.EV_SYN and event.code == ecodes.SYN_DROPPED


class KeyDecoder:
    """A keypad's key-downs through a keymap."""

    def __init__(self, keymap: Keymap) -> None:
        self.keymap = keymap
        self.rejections: Counter[str] = Counter()

    def feed(self, event: InputEvent) -> Press | None:
        if _dropped(event):
            self.rejections["events_dropped"] += 1  # a press may have been lost
            return None
        if event.type != ecodes.EV_KEY or event.value != KEY_DOWN:
            return None
        press = self.keymap.get(event.code)
        if press is None:
            self.rejections["unmapped_key"] += 1
        return press

    def reset(self) -> None:
        """Nothing is ever half done on a keypad."""


_KEYPAD_DIGITS = {code: str(i) for i, code in enumerate(_KP_DIGITS)}
_ROW_DIGITS = {getattr(ecodes, f"KEY_{i}"): str(i) for i in range(10)}
_LETTERS = {getattr(ecodes, f"KEY_{c}"): c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_SHIFTS = frozenset({ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT})
_ENTERS = frozenset({ecodes.KEY_ENTER, ecodes.KEY_KPENTER})


def _time_us(event: InputEvent) -> int:
    return event.sec * 1_000_000 + event.usec


class BadgeDecoder:
    """Collects a badge reader's keys into card numbers.

    Rejections, each counted once per attempt: ``incomplete`` (no Enter before the silence
    timed out, or the device went away), ``bad_key`` (a key that is no digit or letter, Shift
    with a digit of the top row included), ``too_long``, ``events_dropped`` (the kernel lost
    events inside the card), ``empty`` (Enter with nothing typed).
    """

    def __init__(self, max_len: int = BADGE_MAX_LEN, timeout_us: int = BADGE_TIMEOUT_US) -> None:
        self.max_len = max_len
        self.timeout_us = timeout_us
        self.rejections: Counter[str] = Counter()
        self._chars: list[str] = []
        self._spoiled: str | None = None  # why the card being typed cannot be used
        self._last_us: int | None = None  # last key press of the card being typed, if any
        self._shift: set[int] = set()

    def feed(self, event: InputEvent) -> Card | None:
        if _dropped(event):
            self._shift.clear()  # the release of a Shift may be among the lost events
            self._press(_time_us(event), None, "events_dropped")
            return None
        if event.type != ecodes.EV_KEY:
            return None
        if event.code in _SHIFTS:
            self._track_shift(event)
            return None
        if event.value != KEY_DOWN:
            return None
        if event.code in _ENTERS:
            self._expire(_time_us(event))
            return self._end()
        self._press(_time_us(event), self._char(event.code), "bad_key")
        return None

    def reset(self) -> None:
        if self._last_us is not None:
            self._drop("incomplete")
        self._shift.clear()

    def _track_shift(self, event: InputEvent) -> None:
        if event.value == KEY_DOWN:
            self._shift.add(event.code)
        elif event.value == 0:
            self._shift.discard(event.code)

    def _char(self, code: int) -> str | None:
        if code in _KEYPAD_DIGITS:
            return _KEYPAD_DIGITS[code]
        if code in _ROW_DIGITS:
            return None if self._shift else _ROW_DIGITS[code]  # Shift+1 is "!"
        if code in _LETTERS:
            return _LETTERS[code].upper() if self._shift else _LETTERS[code]
        return None

    def _expire(self, t: int) -> None:
        if self._last_us is not None and t - self._last_us > self.timeout_us:
            self._drop("incomplete")

    def _press(self, t: int, char: str | None, why_not: str) -> None:
        """A key of the card being typed: `char`, or None and the card is spoiled."""
        self._expire(t)
        self._last_us = t
        if self._spoiled is not None:
            return
        if char is None:
            self._spoiled = why_not
        elif len(self._chars) >= self.max_len:
            self._spoiled = "too_long"
        else:
            self._chars.append(char)

    def _end(self) -> Card | None:
        if self._last_us is None:
            self.rejections["empty"] += 1
            return None
        if self._spoiled is not None:
            self._drop(self._spoiled)
            return None
        card = Card("".join(self._chars))
        self._clear()
        return card

    def _drop(self, reason: str) -> None:
        self.rejections[self._spoiled or reason] += 1
        self._clear()

    def _clear(self) -> None:
        self._chars.clear()
        self._spoiled = None
        self._last_us = None

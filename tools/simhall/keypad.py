"""Simulated USB keypads and RFID badge readers: what staff (and citizens on a keypad pad)
do, turned into the key events the real devices send.

Which key does what is the agent's keymap (edge_agent.service.keymap): the simulator
presses, for an action, the key the agent's keymap maps to it, so a keymap change cannot
leave the two disagreeing. A badge reader types its card number and Enter, as keyboard-
wedge RFID readers do.
"""

from __future__ import annotations

from evdev import ecodes

from edge_agent.service.keymap import Keymap
from tools.simhall.input_device import SocketInput

KEY_UP, KEY_DOWN = 0, 1
HOLD_US = 80_000  # a finger on a key
TYPE_US = 8_000  # a badge reader's keystroke interval


def code_for(keymap: Keymap, action: str, level: str | None = None) -> int:
    """The key the keymap maps to (action, level); the first one, not a NumLock twin."""
    for code, press in keymap.items():
        if press.action == action and press.level == level:
            return code
    raise ValueError(f"the keymap has no key for {action!r}"
                     + (f" with level {level!r}" if level else ""))


def key_events(code: int, t_us: int, hold_us: int = HOLD_US) -> list[tuple[int, int, int, int]]:
    """One key pressed and released: down, report, up, report."""
    syn = (ecodes.EV_SYN, ecodes.SYN_REPORT, 0)
    return [(t_us, ecodes.EV_KEY, code, KEY_DOWN), (t_us, *syn),
            (t_us + hold_us, ecodes.EV_KEY, code, KEY_UP), (t_us + hold_us, *syn)]


class Keypad:
    """A staff keypad (or a citizen's keypad pad) with the agent's keymap."""

    def __init__(self, device: str, dev: SocketInput, keymap: Keymap) -> None:
        self.device = device
        self.dev = dev
        self.keymap = keymap
        self.presses = 0

    def press(self, action: str, t_us: int, level: str | None = None) -> str:
        """Press the key for `action`; "" if a reader got it, else why not (emit)."""
        self.presses += 1
        return self.dev.emit(key_events(code_for(self.keymap, action, level), t_us))


_DIGITS = {str(i): getattr(ecodes, f"KEY_{i}") for i in range(10)}
_LETTERS = {c: getattr(ecodes, f"KEY_{c.upper()}") for c in "abcdefghijklmnopqrstuvwxyz"}


def card_events(card: str, t_us: int) -> list[tuple[int, int, int, int]]:
    """A card number typed by a badge reader: each character, Shift for capitals, Enter."""
    out: list[tuple[int, int, int, int]] = []
    t = t_us
    for ch in card:
        if ch in _DIGITS:
            out += key_events(_DIGITS[ch], t, TYPE_US // 2)
        elif ch.lower() in _LETTERS:
            code = _LETTERS[ch.lower()]
            if ch.isupper():
                shift = ecodes.KEY_LEFTSHIFT
                out.append((t, ecodes.EV_KEY, shift, KEY_DOWN))
                out += key_events(code, t, TYPE_US // 2)
                out.append((t + TYPE_US // 2, ecodes.EV_KEY, shift, KEY_UP))
            else:
                out += key_events(code, t, TYPE_US // 2)
        else:
            raise ValueError(f"a badge reader types digits and letters, not {ch!r}")
        t += TYPE_US
    return out + key_events(ecodes.KEY_ENTER, t, TYPE_US // 2)


class BadgeReader:
    def __init__(self, device: str, dev: SocketInput) -> None:
        self.device = device
        self.dev = dev
        self.reads = 0

    def read(self, card: str, t_us: int) -> str:
        """Type `card`; "" if a reader got it, else why not (emit)."""
        self.reads += 1
        return self.dev.emit(card_events(card, t_us))

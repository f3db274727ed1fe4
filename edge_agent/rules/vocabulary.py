"""The hall's words, defined once: every module that names an event type, a rating level, a
screen, an incident, a decision's reason, a device or a ruling uses these.

Each member is a ``StrEnum``: it *is* its string (``EventType.RATING == "rating"``), so the
journal, the wire, TOML, JSON APIs and reports carry exactly the words they always carried
(``json.dumps``, f-strings and Redis write the value). A word that crosses in from outside
(a journal line, a JSON body, a TOML file, a frame) is parsed once at that boundary with
:func:`parse`, which names the unknown word and the known ones instead of raising a bare
``ValueError`` from the enum.

The firmware (MicroPython, no ``enum``) keeps its own constants; tests/test_vocabulary.py
checks them against these.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar


class Word(StrEnum):
    """A word of the vocabulary. Its ``repr`` is its string's (``'rating'``), so messages and
    reports that show a word with ``!r`` (or inside a tuple) read as they always did."""

    __repr__ = str.__repr__


class EventType(Word):
    """What happened at a counter (RULES.md §6), or in the hall (a system outage)."""

    STAFF_LOGIN = "staff_login"
    STAFF_LOGOUT = "staff_logout"
    TICKET_CALLED = "ticket_called"
    SERVICE_DONE = "service_done"
    INVITE_CANCEL = "invite_cancel"
    PAUSE = "pause"
    RESUME = "resume"
    RATING = "rating"
    DEVICE_DOWN = "device_down"
    DEVICE_UP = "device_up"
    FAULT_REPORT = "fault_report"
    FAULT_CLEARED = "fault_cleared"
    FAULT_VERIFIED = "fault_verified"
    SYSTEM_OUTAGE = "system_outage"


class Level(Word):
    """A rating level, best first (the order is the wire's level number, docs/protocol.md)."""

    VERY_SATISFIED = "very_satisfied"
    SATISFIED = "satisfied"
    BASIC = "basic"
    UNSATISFIED = "unsatisfied"
    VERY_UNSATISFIED = "very_unsatisfied"


class Scale(Word):
    """A hall's rating scale ([scale] kind)."""

    BINARY = "binary"
    FIVE = "five"


class Screen(Word):
    """What a counter's pad and sign show (the rules engine's choice, RULES.md §2)."""

    CLOSED = "closed"
    WELCOME = "welcome"
    SERVING = "serving"  # the sign while the counter serves; a pad shows its welcome
    INVITE = "invite"
    THANKS = "thanks"
    PAUSED = "paused"


class IncidentKind(Word):
    """A deductible incident (RULES.md §4); each has a penalty in [penalties]."""

    DEVICE_OFFLINE = "device_offline"
    NOT_PROMPTED = "not_prompted"
    REFUSED_EVALUATION = "refused_evaluation"
    CONSECUTIVE_RATING = "consecutive_rating"
    SELF_RATING = "self_rating"
    UNBOUND_RATING = "unbound_rating"
    LEFT_MID_SERVICE = "left_mid_service"
    LONG_PAUSE = "long_pause"


class DecisionReason(Word):
    """Why a rating press was decided as it was (RULES.md §3, the checks in order)."""

    CLOSED = "closed"
    PAUSED = "paused"
    DOUBLE_PRESS = "double_press"
    SELF_RATING = "self_rating"
    INVITE_EXPIRED = "invite_expired"
    NO_SERVICE = "no_service"
    ALREADY_RATED = "already_rated"
    TOO_SOON = "too_soon"
    ACCEPTED = "accepted"


class Source(Word):
    """Who made a rating press (pad, staff) or filed a fault report (staff, pad, it)."""

    PAD = "pad"
    STAFF = "staff"
    IT = "it"


class FaultVerdict(Word):
    """The IT department's ruling on a fault report (查实, rules v2)."""

    DEVICE_FAULT = "device_fault"
    NOT_DEVICE_FAULT = "not_device_fault"


class FaultStatus(Word):
    """Where a fault report stands (RULES.md §3 "Device faults: reported, then verified")."""

    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    REJECTED = "rejected"


class DeviceKind(Word):
    """What a device in [devices] is."""

    PAD = "pad"
    SIGN = "sign"
    KEYPAD = "keypad"
    BADGE = "badge"


class DeviceLink(Word):
    """How a device reaches the agent."""

    USB = "usb"
    RS485 = "rs485"
    MQTT = "mqtt"
    EVDEV = "evdev"


RATING_SOURCES = (Source.PAD, Source.STAFF)
FAULT_SOURCES = (Source.STAFF, Source.PAD, Source.IT)
SERIAL_LINKS = (DeviceLink.USB, DeviceLink.RS485)
FRAME_LINKS = (*SERIAL_LINKS, DeviceLink.MQTT)  # devices that send sealed frames (docs/protocol.md)
FRAME_KINDS = (DeviceKind.PAD, DeviceKind.SIGN)  # what a frame link can carry
EVDEV_KINDS = (DeviceKind.PAD, DeviceKind.KEYPAD, DeviceKind.BADGE)

E = TypeVar("E", bound=StrEnum)


class UnknownWord(ValueError):
    """A word from outside that the vocabulary does not hold; the message names the known
    ones (callers report it as a counted rejection, never a traceback)."""

    def __init__(self, what: str, word: object, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown {what} {word!r} (one of {', '.join(known)})")
        self.what = what
        self.word = word


def parse(vocabulary: type[E], word: object, what: str | None = None) -> E:
    """``word`` as a member of ``vocabulary``, or :class:`UnknownWord` naming the known ones."""
    member = _members(vocabulary).get(word) if isinstance(word, str) else None
    if member is None:
        label = what or _label(vocabulary.__name__)
        raise UnknownWord(label, word, tuple(vocabulary))
    return member


_by_value: dict[type[StrEnum], dict[str, StrEnum]] = {}


def _members(vocabulary: type[E]) -> dict[str, E]:
    table = _by_value.get(vocabulary)
    if table is None:
        table = _by_value[vocabulary] = {m.value: m for m in vocabulary}
    return table  # type: ignore[return-value]


def _label(name: str) -> str:
    """``EventType`` -> ``event type``."""
    return "".join(" " + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))

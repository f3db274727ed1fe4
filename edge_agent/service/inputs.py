"""What links put on the core's inbox, and what a link must offer the core.

Links are threads at the edge (serial ports, MQTT, evdev devices, the queue-system hook).
They never decide anything: they turn what they hear into these items, stamped with the
agent clock's time of arrival, and put them on the inbox. The core loop is the only reader
of the inbox and the only owner of the engine, the journal and the replay guard.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from edge_agent.records import FaultRecord
from edge_agent.rules.vocabulary import EventType, Level


@dataclass(frozen=True, slots=True)
class SerialBytes:
    """Bytes read from one serial port (a USB pad or an RS-485 bus), in any chunking:
    the core's decoder for that port finds the frames (COBS, 0x00 delimited)."""

    port: str
    data: bytes
    t_us: int


@dataclass(frozen=True, slots=True)
class MqttFrame:
    """One raw frame (no COBS) published by a pad on hall/<hall>/<counter>/<device>/up."""

    device: str
    payload: bytes
    t_us: int


@dataclass(frozen=True, slots=True)
class LinkState:
    """A link's view of devices going away or coming back: a serial port vanished or
    returned, an MQTT status message (retained "online" / last will "offline"), an evdev
    device unplugged or plugged in again."""

    devices: tuple[str, ...]
    online: bool
    t_us: int
    why: str  # for the log and the event's reason, e.g. "port vanished", "last will"


@dataclass(frozen=True, slots=True)
class KeyAction:
    """A key on a USB keypad, already mapped by the keymap.

    action: "rate" (level set), "call_next", "invite" (请评价), "pause_toggle",
    "cancel_invite", "fault" (staff reports the pad faulty), "fault_cleared".
    """

    device: str
    action: str
    t_us: int
    level: Level | None = None


@dataclass(frozen=True, slots=True)
class BadgeRead:
    """A card number typed by an RFID badge reader (evdev), Enter-terminated."""

    device: str
    card: str
    t_us: int


@dataclass(frozen=True, slots=True)
class QueueReport:
    """The hall's queue system: a ticket called at a counter, or its service finished; a
    staff member logged in or out (工号登录), the counter paused or resumed (暂停).
    The applicant's ID number never gets here: only its salted hash."""

    counter: str
    type: EventType  # queue_report.TYPES
    t_us: int
    ticket: str | None = None
    applicant: str | None = None  # "h:<hex>" salted hash
    staff: str | None = None  # a [staff.ID] (staff_login, staff_logout)
    id: str | None = None  # the queue system's own id of the report, echoed on MQTT
    # Called (from the hook's thread) once the report is journaled: True, or False with the
    # reason it was refused (unknown counter, ...). Lets the HTTP hook answer truthfully.
    done: Callable[[bool, str], None] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Stop:
    """Shut down cleanly: finish the batch in hand, then leave the loop."""


Item = (SerialBytes | MqttFrame | LinkState | KeyAction | BadgeRead | QueueReport | FaultRecord
        | Stop)
Inbox = queue.Queue[Item]


class HealthReporting(Protocol):
    """A part whose health the status page shows (a link, the queue hook)."""

    def health(self) -> dict[str, Any]:
        """Counters and state for the status page: frames in/out, rejections, reconnects."""
        ...


class Link(Protocol):
    """A transport at the edge. start() returns at once (the link runs its own thread);
    send() is thread-safe and never blocks the core (a bounded queue; the oldest display
    command is dropped first when it is full, never an ack)."""

    name: str

    def start(self, inbox: Inbox) -> None: ...

    def send(self, device: str, frame: bytes, *, ack: bool) -> bool:
        """Queue one raw frame (no COBS) for a device; False if this link has no such device.
        ``ack``: the frame acks one of the device's (the core built it): it leaves first
        (send_queue.AckFirstQueue)."""
        ...

    def stop(self) -> None: ...

    def health(self) -> dict[str, Any]:
        """Counters and state for the status page: frames in/out, rejections, reconnects."""
        ...

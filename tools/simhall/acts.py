"""Acting out the plan: each act of people.py done on the device a person would use.

    staff_login, staff_logout   the staff's card on the counter's badge reader (the agent
                                logs in, or out when that staff is already in)
    ticket_called               the queue system calls the ticket (holder's ID number)
    service_done                staff keypad: invite (请评价)
    invite_cancel               staff keypad: cancel_invite
    pause, resume               the pad's pause key (the agent toggles)
    rating (source pad)         the citizen (or a cheating staff member) presses the pad
    device_down, device_up      the pad's power (and, for a USB pad, its cable) cut, restored
    fault_report, fault_cleared staff keypad: fault, fault_cleared

Pad keys are pressed at the act's own simulated time (the pad is stepped there; the age
it sends lets the agent stamp the press right). Keypads, badges and the queue system act
when the simulator's loop reaches the act: the agent stamps them on arrival.

An act on a keypad or badge reader that no reader got (the device unplugged, the agent down)
is lost, as on real evdev: it is kept in `lost` with why, so a fault's cost can be told
from a bug.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from tools.simhall.hall import SimHall, Station
from tools.simhall.people import Act
from tools.simhall.queue_system import QueueSystem

KEYPAD_ACTIONS = {"service_done": "invite", "invite_cancel": "cancel_invite",
                  "fault_report": "fault", "fault_cleared": "fault_cleared"}


@dataclass(frozen=True)
class LostAct:
    t_us: int
    counter: str
    kind: str
    device: str
    why: str


class Performer:
    def __init__(self, hall: SimHall, queue: QueueSystem | None, rng: random.Random) -> None:
        self.hall = hall
        self.queue = queue
        self.rng = rng
        self.done: Counter[str] = Counter()
        self.lost: list[LostAct] = []

    def do(self, act: Act, now_us: int) -> None:
        station = self.hall.stations[act.counter]
        kind = act.body["type"]
        at_ms = act.t // 1000
        if kind in ("staff_login", "staff_logout"):
            self._lost(act, now_us, station.badge.device,
                       station.badge.read(station.desk.card, now_us))
        elif kind == "ticket_called":
            self._call(station, act, now_us)
        elif kind in KEYPAD_ACTIONS:
            self._lost(act, now_us, station.keypad.device,
                       station.keypad.press(KEYPAD_ACTIONS[kind], now_us))
        elif kind in ("pause", "resume"):
            station.pad.press_pause(at_ms)
        elif kind == "rating":
            self._rate(station, act, at_ms)
        elif kind == "device_down":
            station.pad.power_off()
        elif kind == "device_up":
            station.pad.power_on(now_us // 1000)
        elif kind == "fault_verified":
            # The IT department rules at the center, which this simulation does not drive
            # yet: the ruling is recorded as not delivered, and the outage stays pending.
            self._lost(act, now_us, act.body["device"], "the IT department's ruling is made "
                       "at the center, not simulated here")
        else:
            raise ValueError(f"the simulator cannot act out a {kind!r} event")
        self.done[kind] += 1

    def _lost(self, act: Act, now_us: int, device: str, why: str) -> None:
        if why:
            self.lost.append(LostAct(now_us, act.counter, act.body["type"], device, why))

    def _call(self, station: Station, act: Act, now_us: int) -> None:
        if self.queue is None:  # a hall without a queue system: staff call on the keypad
            self._lost(act, now_us, station.keypad.device,
                       station.keypad.press("call_next", now_us))
            return
        ticket = act.body["ticket"]
        number = station.desk.id_numbers.pop(ticket, None)  # used once, then forgotten
        self.queue.call(station.counter, ticket, number)

    def _rate(self, station: Station, act: Act, at_ms: int) -> None:
        if act.body.get("source", "pad") != "pad":
            raise ValueError("a staff-side rating has no device to act it out: "
                             "no staff keypad has a rate key (keymap.STAFF_KEYMAP)")
        station.pad.rate(act.body["level"], at_ms, hold_ms=self.rng.randint(80, 220))

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
    fault_verified              the IT department rules at the center on the device's report
                                (it_department.py); lost when the run has no center

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

from edge_agent.rules.vocabulary import EventType, Source
from tools.simhall.hall import SimHall, Station
from tools.simhall.it_department import ItDepartment
from tools.simhall.people import Act
from tools.simhall.queue_system import QueueSystem

KEYPAD_ACTIONS = {EventType.SERVICE_DONE: "invite", EventType.INVITE_CANCEL: "cancel_invite",
                  EventType.FAULT_REPORT: "fault", EventType.FAULT_CLEARED: "fault_cleared"}


@dataclass(frozen=True)
class LostAct:
    t_us: int
    counter: str
    kind: str
    device: str
    why: str


class Performer:
    def __init__(self, hall: SimHall, queue: QueueSystem | None, rng: random.Random,
                 it: ItDepartment | None = None) -> None:
        self.hall = hall
        self.queue = queue
        self.rng = rng
        self.it = it
        self.done: Counter[str] = Counter()
        self.lost: list[LostAct] = []
        self._reported: dict[str, int] = {}  # device -> when staff last reported it faulty

    def do(self, act: Act, now_us: int) -> None:
        station = self.hall.stations[act.counter]
        kind = act.body["type"]
        at_ms = act.t // 1000
        if kind in (EventType.STAFF_LOGIN, EventType.STAFF_LOGOUT):
            self._lost(act, now_us, station.badge.device,
                       station.badge.read(station.desk.card, now_us))
        elif kind == EventType.TICKET_CALLED:
            self._call(station, act, now_us)
        elif kind in KEYPAD_ACTIONS:
            if kind == EventType.FAULT_REPORT:
                self._reported[act.body["device"]] = now_us
            self._lost(act, now_us, station.keypad.device,
                       station.keypad.press(KEYPAD_ACTIONS[kind], now_us))
        elif kind == EventType.FAULT_VERIFIED:
            self._ruling(act, now_us)
        elif kind in (EventType.PAUSE, EventType.RESUME):
            station.pad.press_pause(at_ms)
        elif kind == EventType.RATING:
            self._rate(station, act, at_ms)
        elif kind == EventType.DEVICE_DOWN:
            station.pad.power_off()
        elif kind == EventType.DEVICE_UP:
            station.pad.power_on(now_us // 1000)
        else:
            raise ValueError(f"the simulator cannot act out a {kind!r} event")
        self.done[kind] += 1

    def _lost(self, act: Act, now_us: int, device: str, why: str) -> None:
        if why:
            self.lost.append(LostAct(now_us, act.counter, act.body["type"], device, why))

    def _ruling(self, act: Act, now_us: int) -> None:
        device = act.body["device"]
        if self.it is None:
            self._lost(act, now_us, device, "no center: the IT department rules there")
            return
        # The agent stamps the keypad's report on arrival, at or after the act (a minute's
        # slack for the loop's real-time lag).
        since = self._reported.get(device, act.t) - 60_000_000
        self.it.rule(device, act.body["verdict"], since, note="simulated IT department")

    def _call(self, station: Station, act: Act, now_us: int) -> None:
        if self.queue is None:  # a hall without a queue system: staff call on the keypad
            self._lost(act, now_us, station.keypad.device,
                       station.keypad.press("call_next", now_us))
            return
        ticket = act.body["ticket"]
        number = station.desk.id_numbers.pop(ticket, None)  # used once, then forgotten
        self.queue.call(station.counter, ticket, number)

    def _rate(self, station: Station, act: Act, at_ms: int) -> None:
        if act.body.get("source", Source.PAD) != Source.PAD:
            raise ValueError("a staff-side rating has no device to act it out: "
                             "no staff keypad has a rate key (keymap.STAFF_KEYMAP)")
        station.pad.rate(act.body["level"], at_ms, hold_ms=self.rng.randint(80, 220))

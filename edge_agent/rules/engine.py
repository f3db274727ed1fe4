"""The rules engine: the hall's regulations as a pure, deterministic state machine.

Events go in, in time order; decisions, incidents, tickets and display commands come out.
Time is an input: deadlines (an invitation's expiry, a long pause, an outage reaching the
opening hour, the end of a fault report's grace) fire when :meth:`RulesEngine.advance` or
:meth:`RulesEngine.handle` moves time past them, never from a clock. RULES.md §2-§4 and §7.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from edge_agent.config import HallConfig
from edge_agent.rules.calendar import US, WorkCalendar
from edge_agent.rules.model import (
    HALL,
    REJECTED,
    RULES_VERSION,
    UNVERIFIED,
    VERIFIED,
    Decision,
    DecisionReason,
    DeviceKind,
    Event,
    EventType,
    FaultReport,
    FaultVerdict,
    Incident,
    IncidentChanged,
    IncidentKind,
    Output,
    Screen,
    ScreenChange,
    Source,
    TicketOpened,
)

# What explains a decision of version 2 that version 1 made otherwise (replay of old journals).
READING_RECALL = "重呼: the current ticket called again is the same service (rules version 2)"
READING_CANCEL = "invite_cancel with no live ticket changes nothing (rules version 2)"
READING_ID_HASH = "a repeated login's id_hash replaces the one held (rules version 2)"


Gap = tuple[int, int]  # a system outage: the agent was not listening from, to (rules.md)


class TimeWentBackwards(ValueError):
    """An event older than one already handled."""


@dataclass(slots=True, eq=False)
class Ticket:
    id: str
    counter: str
    applicant: str | None
    staff: str | None  # logged in when it was called: ratings attribute to them
    invited_at: int | None = None
    rated: bool = False
    consecutive_flagged: bool = False
    gap: Gap | None = None  # current when a system outage began: its incidents are exempt


@dataclass(slots=True, eq=False)
class Pause:
    counter: str
    start: int
    line: int
    gap: Gap | None = None


@dataclass(slots=True, eq=False)
class Outage:
    device: str
    counter: str
    start: int
    line: int
    incident: Incident | None = None
    # Repair records open at some moment since the outage began, until it is counted.
    covers: list[FaultReport] = field(default_factory=list)
    gap: Gap | None = None


@dataclass(slots=True)
class DeviceState:
    outage: Outage | None = None
    open_reports: list[FaultReport] = field(default_factory=list)  # until fault_cleared
    latest: FaultReport | None = None  # what a ruling without a ref names
    by_ref: dict[str, FaultReport] = field(default_factory=dict)  # the latest with each ref
    # Counted outages whose grace for a late report has not passed: (grace end, incident).
    in_grace: list[tuple[int, Incident]] = field(default_factory=list)
    # Its device_offline incidents that some report covers: what a ruling may change.
    covered: list[Incident] = field(default_factory=list)


@dataclass(slots=True)
class CounterState:
    id: str
    staff: str | None = None
    staff_hash: str | None = None
    login_at: int | None = None  # when `staff` logged in (or confirmed it, logging in again)
    ticket: Ticket | None = None  # the current ticket; kept (suspended) through a pause
    expired: bool = False  # in `invited` with an expired invitation
    pause: Pause | None = None
    last_accepted: int | None = None
    screen: Screen = Screen.CLOSED
    # The latest reading of rules version 2 that decided here otherwise than version 1:
    # what explains a difference when a journal written under version 1 is replayed.
    reading: str | None = None

    @property
    def state(self) -> str:
        if self.staff is None:
            return "closed"
        if self.pause is not None:
            return "paused"
        if self.ticket is not None:
            return "serving" if self.ticket.invited_at is None else "invited"
        return "invited" if self.expired else "idle"


# The screen of each counter state with no rated or invited ticket.
_STATE_SCREENS = {"closed": Screen.CLOSED, "paused": Screen.PAUSED, "idle": Screen.WELCOME,
                  "serving": Screen.SERVING}

# A deadline: (due, strict, seq, fire, ref). Strict ones fire only once time is past `due`,
# the others once time reaches it; seq keeps equal deadlines in the order they were set.
# Plain tuples: the heap compares them in C.
_Deadline = tuple[int, bool, int, Callable[[int, Any], None], Any]


class RulesEngine:
    """One hall's counters, staff and devices; the single owner of their state."""

    def __init__(self, config: HallConfig, *, displays: bool = True,
                 rules_version: int = RULES_VERSION) -> None:
        self.config = config
        # 1 decides as version 1 did (to check a journal written then); 2 is RULES.md now.
        self.rules_version = rules_version
        self.now: int | None = None
        self.counters: dict[str, CounterState] = {}
        self.devices: dict[str, DeviceState] = {}
        self._staff_at: dict[str, str] = {}
        self._deadlines: list[_Deadline] = []
        self._seq = count()
        self._outputs: list[Output] = []
        # Version 1 only (checking an old journal): an unexempt outage was held back until
        # its grace passed or a report came, and every incident raised after it queued behind
        # it, so each left with the record that released it. [incident, still waiting].
        self._held: deque[list[Any]] = deque()
        self._displays = displays
        r = config.rules
        self._ttl = round(r.invite_ttl_s * US)
        self._grace = round(r.double_press_grace_ms * 1000)
        self._interval = round(r.min_rating_interval_s * US)
        self._min_invite = round(r.min_invite_s * US)
        self._long_pause = round(r.long_pause_min * 60 * US)
        self._fault_grace = round(r.fault_report_grace_min * 60 * US)
        self._catch_up_us = round(r.outage_catch_up_s * US)
        # The latest system outage and the end of the catch-up after it (rules.md).
        self._catch_up: tuple[Gap, int] | None = None
        self._penalty = dict(config.penalties)
        self._calendars: dict[str, WorkCalendar] = {}
        self._handlers: dict[EventType, Callable[[Event, CounterState], None]] = {
            EventType.STAFF_LOGIN: self._staff_login,
            EventType.STAFF_LOGOUT: self._staff_logout,
            EventType.TICKET_CALLED: self._ticket_called,
            EventType.SERVICE_DONE: self._service_done,
            EventType.INVITE_CANCEL: self._invite_cancel,
            EventType.PAUSE: self._pause,
            EventType.RESUME: self._resume,
            EventType.RATING: self._rating,
            EventType.DEVICE_DOWN: self._device_down,
            EventType.DEVICE_UP: self._device_up,
            EventType.FAULT_REPORT: self._fault_report,
            EventType.FAULT_CLEARED: self._fault_cleared,
            EventType.FAULT_VERIFIED: self._fault_verified,
        }
        self._hall_handlers: dict[EventType, Callable[[Event], None]] = {
            EventType.SYSTEM_OUTAGE: self._system_outage,
        }

    # --- public surface ------------------------------------------------------------------

    def handle(self, ev: Event) -> list[Output]:
        """Apply one event; return everything it (and the time before it) produced."""
        t = ev.t
        deadlines = self._deadlines
        if (deadlines and deadlines[0][0] <= t) or self.now is None or t < self.now:
            self._move_time(t)
        else:
            self.now = t
        if ev.counter == HALL:  # about the whole hall, not a counter
            self._hall_handlers[ev.type](ev)
            return self._take()
        counter = self.counters.get(ev.counter) or self._new_counter(ev.counter)
        self._handlers[ev.type](ev, counter)
        if self._held:
            self._release_held()
        if self._displays:
            self._show(counter, t)
        return self._take()

    def advance(self, t: int) -> list[Output]:
        """Let time pass to ``t`` with no event: deadlines that fall due fire."""
        self._move_time(t)
        return self._take()

    def finish(self) -> list[Output]:
        """The end of the input: what version 1 still held leaves as it stands."""
        for entry in self._held:
            entry[1] = False
        self._release_held()
        return self._take()

    # --- time ----------------------------------------------------------------------------

    def _move_time(self, t: int) -> None:
        if self.now is not None and t < self.now:
            raise TimeWentBackwards(f"time went backwards: {t} < {self.now}")
        deadlines = self._deadlines
        while deadlines:
            due, strict, _, fire, ref = deadlines[0]
            if due > t or (strict and due == t):
                break
            heapq.heappop(deadlines)
            fire(due, ref)
        self.now = t
        if self._held:
            self._release_held()

    def _at(self, due: int, strict: bool, fire: Callable[[int, Any], None], ref: Any) -> None:
        heapq.heappush(self._deadlines, (due, strict, next(self._seq), fire, ref))

    def _calendar(self, counter_id: str) -> WorkCalendar:
        cal = self._calendars.get(counter_id)
        if cal is None:
            cal = WorkCalendar(self.config.calendar_for(counter_id), self.config.tz)
            self._calendars[counter_id] = cal
        return cal

    # --- outputs -------------------------------------------------------------------------

    def _take(self) -> list[Output]:
        out = self._outputs
        self._outputs = []
        return out

    def _incident(self, kind: IncidentKind, counter: CounterState, t: int, line: int, *,
                  device: str | None = None, faults: list[FaultReport] | None = None,
                  gap: Gap | None = None) -> Incident:
        incident = Incident(line=line, t=t, counter=counter.id, kind=kind,
                            penalty=self._penalty[kind], staff=counter.staff,
                            device=device, faults=faults, system_outage=gap)
        if faults or gap is not None:
            _settle(incident)
        waiting = self.rules_version < 2 and kind == IncidentKind.DEVICE_OFFLINE \
            and not incident.exempt
        if waiting or self._held:
            self._held.append([incident, waiting])
        else:
            self._outputs.append(incident)
        return incident

    def _release_held(self) -> None:
        held = self._held
        while held and not held[0][1]:
            self._outputs.append(held.popleft()[0])

    def _stop_waiting(self, incident: Incident) -> bool:
        """Version 1: let a held outage go (its grace passed, or a report came); False when
        it is not held, so it was output already."""
        for entry in self._held:
            if entry[0] is incident:
                entry[1] = False
                return True
        return False

    def _show(self, c: CounterState, t: int) -> None:
        state = c.state
        if state in ("serving", "invited") and c.ticket is not None and c.ticket.rated:
            screen = Screen.THANKS
        elif state == "invited":
            screen = Screen.WELCOME if c.expired else Screen.INVITE
        else:
            screen = _STATE_SCREENS[state]
        if screen != c.screen:
            c.screen = screen
            self._outputs.append(ScreenChange(t=t, counter=c.id, screen=screen, staff=c.staff))

    def _new_counter(self, counter_id: str) -> CounterState:
        c = CounterState(counter_id)
        self.counters[counter_id] = c
        return c

    # --- tickets -------------------------------------------------------------------------

    def _open_ticket(self, c: CounterState, ev: Event, ticket_id: str) -> Ticket:
        self._outputs.append(TicketOpened(ev.line, ev.t, c.id, ticket_id, c.staff))
        ticket = Ticket(ticket_id, c.id, ev.applicant, c.staff)
        ticket.gap = self._catching_up(ev.t)  # its call may have been made in the outage
        c.ticket = ticket
        c.expired = False
        return ticket

    def _end_ticket(self, c: CounterState, t: int, line: int) -> None:
        """Staff end the current ticket (next call, logout, cancel, pause while invited)."""
        ticket = c.ticket
        if ticket is None:
            return
        c.ticket = None
        if ticket.rated:
            return
        if ticket.invited_at is None:
            self._incident(IncidentKind.NOT_PROMPTED, c, t, line, gap=ticket.gap)
        elif t - ticket.invited_at < self._min_invite:
            self._incident(IncidentKind.REFUSED_EVALUATION, c, t, line, gap=ticket.gap)

    def _invite(self, c: CounterState, ticket: Ticket, t: int) -> None:
        ticket.invited_at = t
        self._at(t + self._ttl, False, self._expire, ticket)

    def _expire(self, due: int, ticket: Ticket) -> None:
        c = self.counters[ticket.counter]
        if c.ticket is ticket:
            c.ticket = None  # the ticket ends; its invitation was given, so nothing is raised
            c.expired = True
            if self._displays:
                self._show(c, due)

    # --- staff ---------------------------------------------------------------------------

    def _staff_login(self, ev: Event, c: CounterState) -> None:
        staff = ev.staff
        assert staff is not None
        if c.staff == staff:
            c.login_at = ev.t
            if ev.id_hash is not None and ev.id_hash != c.staff_hash \
                    and self.rules_version >= 2:
                c.staff_hash = ev.id_hash  # rule 4 compares with the latest (RULES.md §7)
                c.reading = READING_ID_HASH
            return
        elsewhere = self._staff_at.get(staff)
        if elsewhere is not None:
            other = self.counters[elsewhere]
            self._logout(other, ev)
            if self._displays:
                self._show(other, ev.t)
        if c.staff is not None:
            self._logout(c, ev)
        c.staff = staff
        c.staff_hash = ev.id_hash
        c.login_at = ev.t
        self._staff_at[staff] = c.id

    def _staff_logout(self, ev: Event, c: CounterState) -> None:
        if c.staff is not None and ev.staff in (None, c.staff):
            self._logout(c, ev)

    def _logout(self, c: CounterState, ev: Event) -> None:
        self._end_ticket(c, ev.t, ev.line)
        c.pause = None
        c.expired = False
        if c.staff is not None:
            self._staff_at.pop(c.staff, None)
        c.staff = None
        c.staff_hash = None

    # --- the service flow ----------------------------------------------------------------

    def _ticket_called(self, ev: Event, c: CounterState) -> None:
        assert ev.ticket is not None
        if c.staff is None:
            # The queue system called a ticket to an empty counter: it is the counter's
            # volume, but nobody is there to serve it or to be rated.
            self._outputs.append(TicketOpened(line=ev.line, t=ev.t, counter=c.id,
                                              ticket=ev.ticket, staff=None))
            return
        if c.ticket is not None and c.ticket.id == ev.ticket and self.rules_version >= 2:
            c.reading = READING_RECALL
            return  # 重呼: the citizen did not answer; one service, counted once
        c.pause = None  # calling the next citizen is being back at the counter
        self._end_ticket(c, ev.t, ev.line)
        self._open_ticket(c, ev, ev.ticket)

    def _service_done(self, ev: Event, c: CounterState) -> None:
        if c.staff is None:
            return
        c.pause = None
        ticket = c.ticket
        if ticket is not None and ticket.invited_at is not None:
            if not ticket.rated:
                return  # 请评价 pressed again: the invitation stands as it was
            # Already rated: a hall without a queue system is inviting its next citizen.
            self._end_ticket(c, ev.t, ev.line)
            ticket = None
        if ticket is None:
            ticket = self._open_ticket(c, ev, ev.ticket or f"anon:{ev.line}")
        self._invite(c, ticket, ev.t)

    def _invite_cancel(self, ev: Event, c: CounterState) -> None:
        if c.staff is None:
            return
        if c.ticket is None and self.rules_version >= 2:
            if c.expired:
                c.reading = READING_CANCEL
            return  # no live ticket: nothing to cancel (RULES.md §3, version 2)
        self._end_ticket(c, ev.t, ev.line)
        c.expired = False

    def _pause(self, ev: Event, c: CounterState) -> None:
        if c.staff is None or c.pause is not None:
            return
        ticket = c.ticket
        if ticket is not None and ticket.invited_at is None:
            # the ticket is suspended
            self._incident(IncidentKind.LEFT_MID_SERVICE, c, ev.t, ev.line, gap=ticket.gap)
        else:
            self._end_ticket(c, ev.t, ev.line)
        c.expired = False
        pause = Pause(c.id, ev.t, ev.line)
        c.pause = pause
        due = self._calendar(c.id).working_deadline(ev.t, self._long_pause)
        if due is not None:
            self._at(due, True, self._long_pause_due, pause)

    def _long_pause_due(self, due: int, pause: Pause) -> None:
        c = self.counters[pause.counter]
        if c.pause is pause:
            self._incident(IncidentKind.LONG_PAUSE, c, due, pause.line, gap=pause.gap)

    def _resume(self, ev: Event, c: CounterState) -> None:
        c.pause = None

    # --- rating presses (RULES.md §3, checks in order; the first that matches wins) -------

    def _rating(self, ev: Event, c: CounterState) -> None:
        t = ev.t
        at = t if ev.pressed is None else ev.pressed  # the press checks: when it was made
        ticket = c.ticket
        last = c.last_accepted
        incident: IncidentKind | None = IncidentKind.UNBOUND_RATING
        if c.staff is None:
            reason = DecisionReason.CLOSED
        elif c.pause is not None:
            reason = DecisionReason.PAUSED
        elif last is not None and at - last <= self._grace:
            reason, incident = DecisionReason.DOUBLE_PRESS, None
        elif ev.source == Source.STAFF or (
            ticket is not None and ticket.applicant is not None
            and ticket.applicant == c.staff_hash
        ):
            reason, incident = DecisionReason.SELF_RATING, IncidentKind.SELF_RATING
        elif ticket is None:
            reason = DecisionReason.INVITE_EXPIRED if c.expired else DecisionReason.NO_SERVICE
        elif ticket.rated or (last is not None and at - last < self._interval):
            reason = DecisionReason.ALREADY_RATED if ticket.rated else DecisionReason.TOO_SOON
            incident = None if ticket.consecutive_flagged else IncidentKind.CONSECUTIVE_RATING
            ticket.consecutive_flagged = True
        else:
            reason, incident = DecisionReason.ACCEPTED, None
            ticket.rated = True
            c.last_accepted = at
        assert ev.level is not None
        self._outputs.append(Decision(  # positional: one of these per rating press
            ev.line, t, c.id, reason is DecisionReason.ACCEPTED, reason,
            ticket.id if ticket is not None else None,
            ticket.staff if ticket is not None else c.staff, ev.level))
        if incident == "unbound_rating":
            # Made in an outage or its catch-up, it may be a rating of a ticket whose call
            # has not reached the agent yet: listed with the outage (rules.md).
            self._incident(incident, c, t, ev.line, gap=self._catching_up(at))
        elif incident is not None:
            self._incident(incident, c, t, ev.line,
                           gap=ticket.gap if ticket is not None and incident
                           is IncidentKind.CONSECUTIVE_RATING else None)

    # --- devices -------------------------------------------------------------------------

    def _device(self, device_id: str) -> DeviceState:
        d = self.devices.get(device_id)
        if d is None:
            d = self.devices[device_id] = DeviceState()
        return d

    def _is_pad(self, device_id: str) -> bool:
        known = self.config.devices.get(device_id)
        return known is None or known.kind == DeviceKind.PAD

    def _device_down(self, ev: Event, c: CounterState) -> None:
        assert ev.device is not None
        d = self._device(ev.device)
        if d.outage is not None:
            return
        outage = d.outage = Outage(ev.device, c.id, ev.t, ev.line, covers=list(d.open_reports))
        if not self._is_pad(ev.device):
            return
        calendar = self._calendar(c.id)
        if calendar.is_working(ev.t):
            self._outage_counts(ev.t, outage)
            return
        opening = calendar.next_opening(ev.t)
        if opening is not None:
            self._at(opening, True, self._outage_counts, outage)

    def _outage_counts(self, t: int, outage: Outage) -> None:
        d = self.devices[outage.device]
        if d.outage is not outage:
            return
        c = self.counters[outage.counter]
        # Version 1: only a report open at this moment covered the outage.
        covers = outage.covers if self.rules_version >= 2 else list(d.open_reports)
        incident = outage.incident = self._incident(
            IncidentKind.DEVICE_OFFLINE, c, t, outage.line, device=outage.device,
            faults=list(covers), gap=outage.gap)
        if covers:
            d.covered.append(incident)
        d.in_grace = [g for g in d.in_grace if g[0] >= t]
        d.in_grace.append((t + self._fault_grace, incident))
        if self.rules_version < 2 and not incident.exempt:
            self._at(t + self._fault_grace, True, self._grace_over, incident)

    def _grace_over(self, due: int, incident: Incident) -> None:
        self._stop_waiting(incident)

    def _device_up(self, ev: Event, c: CounterState) -> None:
        assert ev.device is not None
        self._device(ev.device).outage = None

    def _fault_report(self, ev: Event, c: CounterState) -> None:
        assert ev.device is not None
        d = self._device(ev.device)
        trusted = ev.source == Source.IT or not self.config.rules.fault_verification \
            or self.rules_version < 2
        report = FaultReport(ev.device, c.id, ev.source, ev.ref, ev.line, ev.t,
                             VERIFIED if trusted else UNVERIFIED)
        d.open_reports.append(report)
        d.latest = report
        if ev.ref is not None:
            d.by_ref[ev.ref] = report
        if d.outage is not None and d.outage.incident is None:
            d.outage.covers.append(report)  # an outage not counted yet (outside hours)
        d.in_grace = [g for g in d.in_grace if g[0] >= ev.t]  # the grace includes its end
        for _, incident in d.in_grace:
            assert incident.faults is not None
            if report not in incident.faults:
                if not incident.faults:
                    d.covered.append(incident)
                incident.faults.append(report)
                if self.rules_version < 2 and self._stop_waiting(incident):
                    _settle(incident)  # still held: it leaves exempt, as version 1 had it
                else:
                    self._resettle(incident, ev)

    def _fault_cleared(self, ev: Event, c: CounterState) -> None:
        assert ev.device is not None
        d = self._device(ev.device)
        for report in d.open_reports:
            report.open = False
        d.open_reports = []

    def _fault_verified(self, ev: Event, c: CounterState) -> None:
        assert ev.device is not None
        d = self._device(ev.device)
        report = d.latest if ev.ref is None else d.by_ref.get(ev.ref)
        status = VERIFIED if ev.verdict == FaultVerdict.DEVICE_FAULT else REJECTED
        if report is None or report.status == status:
            return  # a ruling that matches no report, or repeats one, changes nothing
        report.status = status
        for incident in d.covered:
            assert incident.faults is not None
            if report in incident.faults:
                self._resettle(incident, ev)

    # --- the system's own outages (rules.md, "System outages") ------------------------------

    def _system_outage(self, ev: Event) -> None:
        """The agent was not listening from ``ev.t`` to ``ev.until``: what was under way then
        may have lost an input, so its incidents are exempt (rules.md)."""
        assert ev.until is not None
        gap = (ev.t, ev.until)
        self._catch_up = (gap, ev.until + self._catch_up_us)
        for c in self.counters.values():
            if c.ticket is not None:
                c.ticket.gap = gap
            if c.pause is not None:
                c.pause.gap = gap
        for d in self.devices.values():
            if d.outage is not None:
                d.outage.gap = gap
            # An outage in its fault-report grace: the staff's report may have been lost.
            d.in_grace = [g for g in d.in_grace if g[0] >= ev.t]
            for _, incident in d.in_grace:
                if incident.system_outage is None:
                    incident.system_outage = gap
                    self._resettle(incident, ev)

    def _catching_up(self, t: int) -> Gap | None:
        """The latest system outage if ``t`` falls in it or in the catch-up after it (inclusive):
        what the queue system and the pads kept through it may still be arriving, in no
        guaranteed order (rules.md, "System outages")."""
        if self._catch_up is None:
            return None
        gap, end = self._catch_up
        return gap if gap[0] <= t <= end else None

    def _resettle(self, incident: Incident, ev: Event) -> None:
        """Recompute an output incident's status; say so when it changed."""
        before = (incident.exempt, incident.pending)
        _settle(incident)
        if (incident.exempt, incident.pending) != before:
            self._outputs.append(IncidentChanged(ev.line, ev.t, incident))


def _settle(incident: Incident) -> None:
    """RULES.md §3: exempt once a covering report is verified; pending while one is not yet
    ruled; deducted plainly when none covers it or every covering one was rejected. Exempt
    too when a system outage may have caused it (rules.md, "System outages")."""
    statuses = {f.status for f in incident.faults or ()}
    incident.exempt = VERIFIED in statuses or incident.system_outage is not None
    incident.pending = not incident.exempt and UNVERIFIED in statuses

"""The core loop: the one owner of the rules engine, the journal and the replay guard.

Links put items on the inbox (inputs.py). The loop takes what has arrived (up to a batch),
turns each item into rules events, lets the engine decide, commits every event with its
outcome to the journal in one transaction, and only then acknowledges pads, answers the
queue hook and sends display commands. Time passes every tick with no input: what falls due
(an invitation expiring, a long pause, a device silent too long) is journaled as a "tick"
record, which replay honours. At start the journal is replayed through a fresh engine, so a
restarted agent is in exactly the state it left, and the replay guard's marks come back
from the (device, boot, seq) each pad event was journaled with.
"""

from __future__ import annotations

import logging
import queue
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from edge_agent import hall_state
from edge_agent.config import HallConfig
from edge_agent.journal import Entry, Journal
from edge_agent.outbox import Outbox
from edge_agent.records import FaultRecord, event_record, fault_reason, outcome_dict
from edge_agent.rules.calendar import from_us
from edge_agent.rules.engine import CounterState
from edge_agent.rules.model import (
    HALL,
    SATISFIED_LEVELS,
    Event,
    EventType,
    Level,
    Output,
    Scale,
    Screen,
    ScreenChange,
    Source,
)
from edge_agent.service.checks import FRAME_LINKS, expected_address
from edge_agent.service.clock import WALL, TimeSource
from edge_agent.service.devices import DeviceTable, link_name
from edge_agent.service.inputs import (
    BadgeRead,
    HealthReporting,
    Inbox,
    Item,
    KeyAction,
    Link,
    LinkState,
    MqttFrame,
    QueueReport,
    SerialBytes,
    Stop,
)
from edge_agent.service.pad_view import PadView, pad_text
from edge_agent.service.status import snapshot
from edge_agent.timeline import EventParser, format_time
from edge_agent.wire import (
    SCREEN_CODES,
    Encoder,
    Fault,
    FrameRejection,
    Message,
    PauseKey,
    Press,
    Result,
    SelfTest,
    SeqGuard,
)

log = logging.getLogger("edge_agent.core")
US = 1_000_000
MAX_BATCH = 256
INBOX_SIZE = 10_000
STATUS_EVERY_S = 0.2  # the status page sees a commit within this (real) time
def repair_ref(device: str, t_us: int, tz: ZoneInfo) -> str:
    """The ref of a repair record the agent files: ``{device}-{YYYYMMDDHHMMSS}`` in the
    hall's local time (``P-A01-20260302091500``)."""
    return f"{device}-{from_us(t_us, tz):%Y%m%d%H%M%S}"


@dataclass(slots=True)
class TurnCommit:
    """What one turn of the loop commits, and what may leave only after the commit."""

    entries: list[Entry] = field(default_factory=list)
    sends: list[tuple[str, bytes, bool]] = field(default_factory=list)  # device, frame, ack
    answers: list[tuple[Callable[[bool, str], None], bool, str]] = field(default_factory=list)
    woke: list[str] = field(default_factory=list)  # devices back: show them their screen


def new_inbox() -> Inbox:
    return queue.Queue(INBOX_SIZE)


class Core:
    """``links`` carry frames to and from devices; ``servers`` are the local servers whose
    health the status page shows (the queue hook); ``outbox`` sends the journal to the center
    (None: the hall has none). They all put what they hear on ``inbox``."""

    def __init__(self, config: HallConfig, journal: Journal, *, boot: int,
                 clock: TimeSource = WALL, links: Mapping[str, Link] | None = None,
                 servers: Mapping[str, HealthReporting] | None = None,
                 outbox: Outbox | None = None, inbox: Inbox | None = None,
                 restore: bool = True) -> None:
        self.config = config
        self.journal = journal
        self.clock = clock
        self.boot = boot
        self.links: dict[str, Link] = dict(links or {})
        self.servers: dict[str, HealthReporting] = dict(servers or {})
        self.inbox: Inbox = inbox if inbox is not None else new_inbox()
        self.guard = SeqGuard()
        self.devices = DeviceTable(config, self.guard)
        self.encoder = Encoder(boot)
        self.refusals: Counter[str] = Counter()
        self.started_us = clock.now_us()
        self.outbox = outbox
        self.status: dict[str, Any] = {}
        self._parser = EventParser(config.scale)
        self._tz = config.tz
        self._tick_us = config.service.agent.tick_ms * 1000
        self._timeout_us = round(config.service.agent.device_timeout_s * US)
        self._next_tick = 0
        self._published = 0.0
        self._logged: set[tuple[str, str]] = set()
        self._staff_cards = config.service.staff_by_card()
        self.pad_view = PadView(config)
        self.snapshot_every = config.service.agent.snapshot_every
        self._heartbeat_us = round(config.service.agent.heartbeat_s * US)
        self._last_record_us = 0
        self.state = hall_state.HallState(config)
        self.engine = self.state.engine
        self.today = self.state.today
        self._snapshot_seq = 0
        self._snapshot_day_end = 0
        if restore:  # else the caller restores once its links are taking input (run.py)
            self.restore()

    # --- start: the journal back into the engine -----------------------------------------

    def restore(self) -> None:
        """The journal back into the engine (from its latest snapshot and the records after
        it, or all of it): same state, same guard marks, same device flags."""
        restored = hall_state.restore(self.journal, self.config)
        self.state = restored.state
        self.engine = self.state.engine
        self.today = self.state.today
        self.restored = restored
        self._snapshot_seq = restored.snapshot_seq
        self._snapshot_day_end = hall_state.next_midnight(self.started_us, self._tz)
        for device, mark in self.state.guard.marks().items():
            self.guard.check(device, *mark)
        for device, flags in self.state.flags.items():
            health = self.devices.health.get(device)
            if health is not None:
                health.online = flags.online
                health.fault = flags.fault
                health.selftest_failed = flags.selftest_failed
        last = self.journal.record(self.journal.head_seq)
        self._last_record_us = last.t_us if last is not None else 0
        restored_at = self.clock.now_us()
        if last is not None:
            self._system_outage(restored_at)
        for h in self.devices.health.values():
            h.last_seen = restored_at  # heard of "now": silent from here on is down
        log.info("journal restored to record %d: %s, %d records replayed",
                 self.journal.head_seq, f"snapshot at record {restored.snapshot_seq}"
                 if restored.snapshot_seq else "no snapshot", restored.replayed)

    def _system_outage(self, now: int) -> None:
        """Journal the time since the last record (the agent was not listening) as a system
        outage of the whole hall, before anything else is decided (rules.md)."""
        since = self.engine.now
        if since is None or now <= since:
            return
        batch = TurnCommit()
        self._event(Event(since, EventType.SYSTEM_OUTAGE, HALL, until=now,
                          reason=f"agent boot {self.boot}: not listening since its last record"),
                    batch)
        self.journal.append_many(batch.entries)
        for entry in batch.entries:
            self.state.note_entry(entry)
        self._last_record_us = batch.entries[-1].t_us
        log.warning("system outage journaled: no record from %s to %s",
                    format_time(since, self._tz), format_time(now, self._tz))

    def snapshot_due(self, now: int, quiet: bool) -> bool:
        """At a quiet moment after the local day's end, or after snapshot_every records
        (at once after four times that, quiet or not)."""
        since = self.journal.head_seq - self._snapshot_seq
        if not since:
            return False
        due = since >= self.snapshot_every or now >= self._snapshot_day_end
        return due and (quiet or since >= 4 * self.snapshot_every)

    def write_snapshot(self, now: int) -> None:
        started = time.monotonic()
        outputs = hall_state.write_snapshot(self.journal, self.state, self.engine.now or now)
        if outputs:  # none at the engine's own time; kept right if that ever changes
            log.warning("a snapshot let time pass: %d outputs", len(outputs))
        self._snapshot_seq = self.journal.head_seq
        self._last_record_us = max(self._last_record_us, self.engine.now or now)
        self._snapshot_day_end = hall_state.next_midnight(now, self._tz)
        log.info("snapshot at journal record %d in %.0f ms", self._snapshot_seq,
                 (time.monotonic() - started) * 1000)

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Until a Stop item: take what arrived, decide, commit, then answer."""
        self.send_all_screens()
        self.publish_status()
        while True:
            items = self._take_items()
            stop = any(isinstance(i, Stop) for i in items)
            # The last turn journals a heartbeat: a clean stop's downtime starts here.
            self.step([i for i in items if not isinstance(i, Stop)], closing=stop)
            if stop:
                return

    def _take_items(self) -> list[Item]:
        wait = max(0.0, (self._next_tick - self.clock.now_us()) / US / self.clock.speed)
        try:
            items = [self.inbox.get(timeout=wait)]
        except queue.Empty:
            return []
        while len(items) < MAX_BATCH:
            try:
                items.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        return items

    def step(self, items: list[Item], *, closing: bool = False) -> None:
        """One turn: items in, one commit, then acks, answers and display commands out."""
        now = self.clock.now_us()
        batch = TurnCommit()
        for item in items:
            self._take(item, now, batch)
        if now >= self._next_tick or closing:
            self._tick(now, batch, closing)
        if batch.entries:
            self.journal.append_many(batch.entries)  # durable from here
            self._last_record_us = max(self._last_record_us, batch.entries[-1].t_us)
            for entry in batch.entries:
                self.state.note_entry(entry)
            if self.outbox is not None:
                self.outbox.wake()
        for device in batch.woke:
            self._send_screen(device, batch)
        for device, frame, ack in batch.sends:
            self._send(device, frame, ack)
        for done, ok, why in batch.answers:
            done(ok, why)
        if self.snapshot_due(now, not items):
            self.write_snapshot(now)
        if now >= self._next_tick:
            self._next_tick = now + self._tick_us
            self.publish_status()
        elif batch.entries and time.monotonic() - self._published >= STATUS_EVERY_S:
            self.publish_status()

    def _tick(self, now: int, batch: TurnCommit, heartbeat: bool = False) -> None:
        for device in self.devices.silent(now, self._timeout_us):
            lost = self.devices.health[device].link_lost
            why = "silent" if lost is None else f"silent; its link: {lost}"
            self._device_state(device, False, now, why, batch)
        outputs = self.engine.advance(max(now, self.engine.now or now))
        if outputs or (not batch.entries and (
                heartbeat or now - self._last_record_us >= self._heartbeat_us)):
            # A heartbeat when nothing else is journaled: the record bounds a downtime.
            t = self.engine.now or now
            self._commit(Entry(t, "tick", {"t": format_time(t, self._tz)},
                               outcome_dict(outputs, self.config)), outputs, batch)

    # --- items into events -----------------------------------------------------------------

    def _take(self, item: Item, now: int, batch: TurnCommit) -> None:
        if isinstance(item, SerialBytes):
            decoder = self.devices.serial_decoder(item.port)
            if decoder is None:
                self._refuse("unknown_port", item.port)
                return
            for result in decoder.feed(item.data):
                self._frame(result, item.t_us, f"serial:{item.port}", batch)
        elif isinstance(item, MqttFrame):
            mqtt_decoder = self.devices.mqtt_decoder(item.device)
            if mqtt_decoder is None:
                self._refuse("unknown_device", f"mqtt:{item.device}")
                return
            self._frame(mqtt_decoder.decode(item.payload), item.t_us, f"mqtt:{item.device}",
                        batch)
        elif isinstance(item, LinkState):
            for device in item.devices:
                self._link_state(device, item, batch)
        elif isinstance(item, KeyAction):
            self._key(item, batch)
        elif isinstance(item, BadgeRead):
            self._badge(item, batch)
        elif isinstance(item, QueueReport):
            self._queue(item, batch)
        elif isinstance(item, FaultRecord):
            self._center_fault(item, now, batch)

    def _frame(self, result: Result, t_us: int, source: str, batch: TurnCommit) -> None:
        if isinstance(result, FrameRejection):
            # The decoder counted it already.
            self._refuse(result.reason.value, result.device or source, count=False)
            return
        health = self.devices.health[result.device]
        health.last_seen = t_us
        health.link_lost = None
        if health.online is False:
            self._device_state(result.device, True, t_us, "heard again", batch)
        elif health.online is None:
            health.online = True
        if not result.kind.is_event:
            return
        if not result.duplicate:
            self._pad_event(result, t_us, batch)
        # A retransmission whose ack was lost is acked again (its original is journaled, or
        # is in this batch and will be before the ack leaves), never counted again.
        key = self.devices.key(result.device)
        if key is not None:
            batch.sends.append((result.device, self.encoder.ack(
                key, result.address, result.boot, result.seq), True))

    def _pad_event(self, m: Message, t_us: int, batch: TurnCommit) -> None:
        device = self.devices.by_id[m.device]
        body = m.body
        age = getattr(body, "age_ms", 0) * 1000
        t = t_us - age
        wire = {"device": m.device, "boot": m.boot, "seq": m.seq}
        ev: Event | None = None
        if isinstance(body, Press):
            ev = Event(t, EventType.RATING, device.counter, level=self._level(body.level),
                       source=Source.PAD, device=m.device)
        elif isinstance(body, PauseKey):
            ev = self._pause_toggle(device.counter, t)
        elif isinstance(body, SelfTest):
            ev = self._selftest(m.device, device.counter, body, t)
        elif isinstance(body, Fault):
            ev = self._fault_event(t, EventType.FAULT_REPORT if body.active
                                   else EventType.FAULT_CLEARED,
                                   device.counter, m.device, Source.PAD,
                                   f"pad fault: {body.code} ({body.detail})")
        if ev is not None:  # a passing self-test is only acked: nothing to count
            self._event(ev, batch, wire=wire)

    def _level(self, level: Level) -> Level:
        if self.config.scale == Scale.FIVE:
            return level
        # A 2-key pad sends satisfied / unsatisfied; a 5-key pad on a binary hall folds.
        return Level.SATISFIED if level in SATISFIED_LEVELS else Level.UNSATISFIED

    def _selftest(self, device: str, counter: str, body: SelfTest, t: int) -> Event | None:
        health = self.devices.health[device]
        if body.failed:
            health.selftest_failed = True
            return self._fault_event(t, EventType.FAULT_REPORT, counter, device, Source.PAD,
                                     "selftest failed: " + ", ".join(body.failed))
        if health.selftest_failed:
            health.selftest_failed = False
            return Event(t, EventType.FAULT_CLEARED, counter, device=device,
                         reason="selftest passed")
        return None

    def _pause_toggle(self, counter: str, t: int) -> Event:
        state = self.engine.counters.get(counter)
        paused = state is not None and state.state == "paused"
        return Event(t, EventType.RESUME if paused else EventType.PAUSE, counter,
                     source=Source.STAFF)

    def _link_state(self, device: str, item: LinkState, batch: TurnCommit) -> None:
        if device not in self.devices.by_id:
            self._refuse("unknown_device", device)
            return
        health = self.devices.health[device]
        if not item.online and self.devices.by_id[device].link in FRAME_LINKS:
            # A pad or sign sends heartbeats: it is down once silent for device_timeout_s
            # (_tick), as when it loses power. What its link says (a USB port gone, an MQTT
            # last will) is kept for the status page and the reason, so a reboot or a broker
            # restart shorter than that is not an outage the counter's staff answer for.
            if health.link_lost is None:
                log.info("%s: link reports it gone (%s); down if silent for %g s", device,
                         item.why, self._timeout_us / US)
            health.link_lost = item.why
        elif not item.online:
            self._device_state(device, False, item.t_us, item.why, batch)
        elif self.devices.by_id[device].link == "evdev":
            if health.online is None:  # opened at start, and the journal has it up
                health.online = True
            else:
                self._device_state(device, True, item.t_us, item.why, batch)

    def _device_state(self, device: str, online: bool, t_us: int, why: str,
                      batch: TurnCommit) -> None:
        health = self.devices.health[device]
        if health.online is online:
            return
        health.online = online
        counter = self.devices.by_id[device].counter
        self._event(Event(t_us, EventType.DEVICE_UP if online else EventType.DEVICE_DOWN, counter,
                          device=device, reason=why), batch)
        if online:
            batch.woke.append(device)

    def _key(self, item: KeyAction, batch: TurnCommit) -> None:
        device = self.devices.by_id.get(item.device)
        if device is None:
            self._refuse("unknown_device", item.device)
            return
        c, t = device.counter, item.t_us
        seq = self.journal.next_seq(len(batch.entries))
        events: dict[str, Callable[[], Event | None]] = {
            "rate": lambda: None if item.level is None else Event(
                t, EventType.RATING, c, level=self._level(item.level),
                source=Source.PAD if device.kind == "pad" else Source.STAFF, device=device.id),
            "call_next": lambda: Event(t, EventType.TICKET_CALLED, c, ticket=f"{c}-K{seq}"),
            "invite": lambda: Event(t, EventType.SERVICE_DONE, c),
            "pause_toggle": lambda: self._pause_toggle(c, t),
            "cancel_invite": lambda: Event(t, EventType.INVITE_CANCEL, c),
            "fault": lambda: self._pad_fault(c, t, EventType.FAULT_REPORT,
                                             "staff keypad report"),
            "fault_cleared": lambda: self._pad_fault(c, t, EventType.FAULT_CLEARED,
                                                     "staff keypad"),
        }
        make = events.get(item.action)
        ev = make() if make is not None else None
        if ev is None or (item.action == "rate" and item.level is None):
            self._refuse("bad_key_action", f"{item.device}:{item.action}")
            return
        self._event(ev, batch)

    def _pad_fault(self, counter: str, t: int, kind: EventType, why: str) -> Event | None:
        pads = self.devices.at_counter(counter, "pad")
        if not pads:
            return None
        self.devices.health[pads[0].id].fault = kind == "fault_report"
        return self._fault_event(t, kind, counter, pads[0].id, Source.STAFF, why)

    def _fault_event(self, t: int, kind: EventType, counter: str, device: str, source: Source,
                     why: str) -> Event:
        """A fault report the agent originates (the keypad's fault key: source "staff"; a
        pad's self-test or fault frame: "pad") gets its repair-record ref here, so the IT
        department can rule on it at the center by (device, ref); a clear needs none."""
        if kind != "fault_report":
            return Event(t, kind, counter, device=device, reason=why)
        return Event(t, kind, counter, device=device, reason=why, source=source,
                     ref=repair_ref(device, t, self._tz))

    def _badge(self, item: BadgeRead, batch: TurnCommit) -> None:
        device = self.devices.by_id.get(item.device)
        staff = self._staff_cards.get(item.card.upper())
        if device is None or staff is None:
            self._refuse("unknown_card" if device else "unknown_device", item.device)
            return
        state = self.engine.counters.get(device.counter)
        if state is not None and state.staff == staff.id and self._same_day(state.login_at,
                                                                            item.t_us):
            ev = Event(item.t_us, EventType.STAFF_LOGOUT, device.counter, staff=staff.id)
        else:
            ev = Event(item.t_us, EventType.STAFF_LOGIN, device.counter, staff=staff.id,
                       id_hash=staff.id_hash)
        self._event(ev, batch)

    def _same_day(self, login_at: int | None, t_us: int) -> bool:
        """A swipe logs its owner out only on the day they logged in: if yesterday's logout
        swipe never arrived (read while the agent was down), today's first swipe is today's
        login, not a logout that would keep the counter closed all day."""
        return login_at is not None and from_us(login_at, self._tz).date() == from_us(
            t_us, self._tz).date()

    def _queue(self, item: QueueReport, batch: TurnCommit) -> None:
        if item.counter not in self.config.counters and not self.devices.at_counter(
                item.counter, "pad", "sign", "keypad", "badge"):
            self._refuse("unknown_counter", item.counter)
            self._answer(item, batch, False, f"unknown counter {item.counter!r}")
            return
        state = self.engine.counters.get(item.counter)
        conflict = self._queue_conflict(item, state)
        if conflict:
            self._refuse("queue_conflict", f"queue:{item.counter}:{item.type}")
            self._answer(item, batch, False, conflict)
            return
        if conflict is None:  # "" is a retry, or what is so already: answered, not journaled
            self._event(self._queue_event(item, state), batch)
        self._answer(item, batch, True, "")

    def _answer(self, item: QueueReport, batch: TurnCommit, ok: bool, why: str) -> None:
        if item.done is not None:
            batch.answers.append((item.done, ok, why))

    def _queue_conflict(self, item: QueueReport, state: CounterState | None) -> str | None:
        """None: journal the report. "": answer it, journal nothing (the queue system retried
        a report it had no answer for, or asks for what is so already). Else why it is
        refused (a conflict with what is recorded)."""
        staff = state.staff if state is not None else None
        paused = state is not None and state.pause is not None
        closed = f"conflict: counter {item.counter} is closed (no staff logged in)"
        if item.type in ("ticket_called", "service_done"):
            return "" if self._retried(item, state) else None
        if item.type == "staff_login":
            return "" if staff == item.staff else None
        if item.type == "staff_logout":
            if staff is None:
                return ""
            if item.staff not in (None, staff):
                return (f"conflict: staff {item.staff} is not logged in at {item.counter} "
                        f"({staff} is)")
            return None
        if staff is None:  # pause, resume
            return closed
        return "" if paused == (item.type == "pause") else None

    def _queue_event(self, item: QueueReport, state: CounterState | None) -> Event:
        """The report as the rules engine's event: the same events a badge or keypad makes."""
        c, t = item.counter, item.t_us
        if item.type == "staff_login":
            assert item.staff is not None  # parse_report checked
            member = self.config.service.staff.get(item.staff)
            return Event(t, EventType.STAFF_LOGIN, c, staff=item.staff,
                         id_hash=member.id_hash if member else None)
        if item.type == "staff_logout":
            return Event(t, EventType.STAFF_LOGOUT, c, staff=state.staff if state else None)
        if item.type in ("pause", "resume"):
            return Event(t, item.type, c, source=Source.STAFF)
        return Event(t, item.type, c, ticket=item.ticket, applicant=item.applicant)

    def _retried(self, item: QueueReport, state: CounterState | None) -> bool:
        ticket = state.ticket if state is not None else None
        if ticket is None or item.ticket is None or ticket.id != item.ticket:
            return False
        return item.type == "ticket_called" or ticket.invited_at is not None

    def _center_fault(self, item: FaultRecord, now: int, batch: TurnCommit) -> None:
        """An entry of the center's repair list: a report filed there (its ref is
        ``center-N``), a clear, or the IT department's ruling on a repair record. A ruling
        takes effect when the agent journals it (the center's clock is not the hall's)."""
        device = self.devices.by_id.get(item.device)
        if device is None:
            self._refuse("unknown_device", f"center:{item.device}")
            return
        reason = fault_reason(item)
        kind = item.entry_kind
        if kind == "ruling":
            ev = Event(now, EventType.FAULT_VERIFIED, device.counter, device=device.id,
                       reason=reason, ref=item.fault_ref, verdict=item.verdict)
        elif kind == "report":
            self.devices.health[device.id].fault = True
            ev = Event(item.t_us, EventType.FAULT_REPORT, device.counter, device=device.id,
                       reason=reason, source=item.source, ref=f"center-{item.ref}")
        else:
            self.devices.health[device.id].fault = False
            ev = Event(item.t_us, EventType.FAULT_CLEARED, device.counter, device=device.id,
                       reason=reason)
        self._event(ev, batch, center=item)  # its center_entry: the outbox's mark

    # --- deciding and committing -----------------------------------------------------------

    def _event(self, ev: Event, batch: TurnCommit, *, wire: dict[str, Any] | None = None,
               center: FaultRecord | None = None) -> None:
        last = self.engine.now
        if last is not None and ev.t < last:
            # Inputs reach the engine in time order: a late arrival takes the latest time.
            # A late rating keeps when it was pressed, for the double-press and too-soon
            # checks; what the counter's state was then is not rewound (architecture.md).
            if ev.type == "rating":
                ev.pressed = ev.t
            ev.t = last
        ev.line = self.journal.next_seq(len(batch.entries))
        outputs = self.engine.handle(ev)
        data = event_record(ev, self._tz, wire=wire, center=center)
        self._commit(Entry(ev.t, "event", data, outcome_dict(outputs, self.config)),
                     outputs, batch)

    def _commit(self, entry: Entry, outputs: list[Output], batch: TurnCommit) -> None:
        batch.entries.append(entry)
        for o in outputs:
            if isinstance(o, ScreenChange):
                for device in self.devices.at_counter(o.counter, "pad", "sign"):
                    self._queue_screen(device.id, o.screen, o.staff, batch)

    # --- output to devices -------------------------------------------------------------------

    def send_all_screens(self) -> None:
        batch = TurnCommit()
        for device in self.devices.by_id:
            self._send_screen(device, batch)
        for device, frame, ack in batch.sends:
            self._send(device, frame, ack)

    def _send_screen(self, device: str, batch: TurnCommit) -> None:
        d = self.devices.by_id[device]
        if d.kind not in ("pad", "sign"):
            return
        state = self.engine.counters.get(d.counter)
        self._queue_screen(device, state.screen if state else Screen.CLOSED,
                           state.staff if state else None, batch)

    def _queue_screen(self, device: str, screen: Screen, staff: str | None,
                      batch: TurnCommit) -> None:
        key = self.devices.key(device)
        d = self.devices.by_id[device]
        if key is None or link_name(d) is None:
            return
        text = pad_text(self.config, screen, staff)
        self.pad_view.sent(text)
        frame = self.encoder.display(key, expected_address(d), SCREEN_CODES[screen], text)
        batch.sends.append((device, frame, False))

    def _send(self, device: str, frame: bytes, ack: bool) -> None:
        name = link_name(self.devices.by_id[device])
        link = self.links.get(name or "")
        if link is None or not link.send(device, frame, ack=ack):
            self.refusals["no_link_for_send"] += 1

    # --- refusals and status ---------------------------------------------------------------

    def _refuse(self, reason: str, source: str, *, count: bool = True) -> None:
        """Count a refused input; log the first of each kind from each source."""
        if count:
            self.refusals[reason] += 1
        if (reason, source) not in self._logged and len(self._logged) < 10_000:
            self._logged.add((reason, source))
            log.warning("refused %s from %s (counted; further ones from it are only counted)",
                        reason, source)

    @property
    def parts_health(self) -> dict[str, HealthReporting]:
        """The links' and the local servers' health, by name, for the status page."""
        return {**self.links, **self.servers}

    def publish_status(self) -> None:
        self.status = snapshot(self)
        self._published = time.monotonic()

    def rejections(self) -> dict[str, int]:
        """Every refused input since the agent started: the core's, the frame decoders' and
        what the links refused before it reached the core (an MQTT topic, say)."""
        out: Counter[str] = Counter(self.refusals)
        for decoder in self.devices.decoders().values():
            out.update(decoder.rejections)
        for link in self.links.values():
            refused = link.health().get("refused")
            if isinstance(refused, dict):
                out.update(refused)
        return dict(out)


"""Replay (RULES.md §6): run a timeline or a journal through the rules and score a month.

Streaming: events are read, decided and written one at a time, so memory stays flat however
long the input; only the month's per-counter and per-staff tallies and the incidents waiting
to be written are kept.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from edge_agent.config import HallConfig
from edge_agent.journal import GENESIS, SNAPSHOT, Journal, Record, checked
from edge_agent.rules.engine import RulesEngine
from edge_agent.rules.model import (
    RULES_VERSION,
    Decision,
    Event,
    Incident,
    IncidentChanged,
    Output,
    ScreenChange,
    TicketOpened,
)
from edge_agent.scoring import MonthTally
from edge_agent.timeline import EventParser, TimelineError, format_time


@dataclass(slots=True)
class Tick:
    """Time passing with no event (journaled by the live agent when a deadline fired)."""

    t: int
    line: int


class TimeOrder:
    """Refuses an input older than the one before it, naming both lines."""

    def __init__(self, config: HallConfig) -> None:
        self._tz = config.tz
        self.last_t: int | None = None
        self._last_line = 0

    def check(self, item: Event | Tick) -> None:
        if self.last_t is not None and item.t < self.last_t:
            raise TimelineError(item.line, f"time goes backwards: "
                                           f"{format_time(item.t, self._tz)} is before "
                                           f"{format_time(self.last_t, self._tz)} "
                                           f"(line {self._last_line})")
        self.last_t, self._last_line = item.t, item.line


class Replayer:
    """Feeds events to a fresh engine in order and adds the month's outputs to a tally."""

    def __init__(self, config: HallConfig, month: str) -> None:
        self.engine = RulesEngine(config, displays=False)
        self.tally = MonthTally(config, month)
        self._order = TimeOrder(config)

    def feed(self, item: Event | Tick) -> list[Output]:
        self._order.check(item)
        if isinstance(item, Event):
            if item.type == "staff_login" and item.staff is not None:
                self.tally.see_staff(item.staff)
            outputs = self.engine.handle(item)
        else:
            outputs = self.engine.advance(item.t)
        if outputs:
            self.tally.add_all(outputs)
        return outputs

    def finish(self) -> list[Output]:
        """Time runs on to the end of the month (or the last event, if later)."""
        end = max(self.tally.end, self._order.last_t or self.tally.end)
        outputs = self.engine.advance(end) + self.engine.finish()
        self.tally.add_all(outputs)
        for counter in self.engine.counters:  # every counter seen in the input is reported
            self.tally.see_counter(counter)
        return outputs


# --- inputs -----------------------------------------------------------------------------


def timeline_events(stream: BinaryIO, parser: EventParser,
                    progress: Any = None) -> Iterator[Event]:
    """Events of a timeline file read as bytes; a line that is not UTF-8 is named."""
    for number, raw in enumerate(stream, 1):
        if progress is not None:
            progress.advance(len(raw))
        if raw.strip():
            yield parser.parse_line(raw, number)


def journal_events(records: Iterable[Record], parser: EventParser,
                   start: tuple[int, bytes] = (1, GENESIS)
                   ) -> Iterator[tuple[Event | Tick, Record]]:
    """The inputs a journal holds with their records, the chain checked as it is read
    (from record ``start[0]``, linked to ``start[1]``: see :func:`journal.chain_start`).

    An input's ``line`` is its record's sequence number. A snapshot's record is time passing
    to when it was taken (the live engine may have let silent deadlines fall due by then).
    """
    for r in checked(records, start):
        if r.kind in ("tick", SNAPSHOT):
            yield Tick(r.t_us, r.seq), r
        else:
            yield parser.parse(r.event_dict(), r.seq), r


# --- outputs ----------------------------------------------------------------------------


def decision_dict(d: Decision) -> dict[str, Any]:
    return {"line": d.line, "counter": d.counter, "accepted": d.accepted, "reason": d.reason,
            "ticket": d.ticket}


_quote = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses


def decision_json(d: Decision) -> str:
    """json.dumps(decision_dict(d)), written out: replay writes one per rating line."""
    ticket = "null" if d.ticket is None else _quote(d.ticket)
    return (f'{{"line": {d.line}, "counter": {_quote(d.counter)}, '
            f'"accepted": {"true" if d.accepted else "false"}, "reason": "{d.reason}", '
            f'"ticket": {ticket}}}')


def incident_dict(i: Incident, config: HallConfig) -> dict[str, Any]:
    out = {"line": i.line, "counter": i.counter, "kind": i.kind,
           "t": format_time(i.t, config.tz), "penalty": i.penalty, "exempt": i.exempt,
           "pending": i.pending}
    if i.faults is not None:  # device_offline: its outage's repair records as they stand
        out["device"] = i.device
        out["faults"] = [{"ref": f.ref, "source": f.source, "status": f.status,
                          "line": f.line} for f in i.faults]
    if i.system_outage is not None:  # why it is exempt (rules.md, "System outages")
        out["system_outage"] = [format_time(x, config.tz) for x in i.system_outage]
    return out


def outcome_dict(outputs: list[Output], config: HallConfig) -> dict[str, Any]:
    """What the journal keeps as an event's outcome."""
    out: dict[str, Any] = {}
    for o in outputs:
        if isinstance(o, Decision):
            out["decision"] = {**decision_dict(o), "staff": o.staff}
        elif isinstance(o, Incident):
            out.setdefault("incidents", []).append(
                {**incident_dict(o, config), "staff": o.staff, "device": o.device})
        elif isinstance(o, IncidentChanged):
            i = o.incident
            out.setdefault("changed", []).append(
                {**incident_dict(i, config), "staff": i.staff, "device": i.device})
        elif isinstance(o, TicketOpened):
            out.setdefault("tickets", []).append({"ticket": o.ticket, "staff": o.staff})
        elif isinstance(o, ScreenChange):
            out.setdefault("displays", []).append({"counter": o.counter, "screen": o.screen})
    return out


class ContractWriter:
    """Writes the replay document: decisions as they come, incidents spooled, report last."""

    def __init__(self, stream: IO[str], config: HallConfig) -> None:
        self._out = stream
        self._config = config
        # Incidents come last in the document but arrive throughout: spool them, one a line
        # (to disk past 1 MiB), so memory stays flat. Closed in close(). A device_offline
        # incident may still change (a ruling): it is spooled as "#N" and kept until then.
        self._incidents: IO[str] = tempfile.SpooledTemporaryFile(1 << 20, mode="w+")  # noqa: SIM115
        self._mutable: list[Incident] = []
        self._first_decision = True
        self._out.write('{"decisions": [')

    def write(self, outputs: list[Output]) -> None:
        for o in outputs:
            if isinstance(o, Decision):
                self._out.write(("\n  " if self._first_decision else ",\n  ")
                                + decision_json(o))
                self._first_decision = False
            elif isinstance(o, Incident):
                if o.faults is not None:
                    self._incidents.write(f"#{len(self._mutable)}\n")
                    self._mutable.append(o)
                else:
                    self._incidents.write(self._incident_json(o) + "\n")

    def _incident_json(self, incident: Incident) -> str:
        return json.dumps(incident_dict(incident, self._config), ensure_ascii=False)

    def close(self, report: dict[str, Any]) -> None:
        out = self._out
        out.write("\n],\n\"incidents\": [")
        self._incidents.seek(0)
        for number, line in enumerate(self._incidents):
            text = line[:-1]
            if text.startswith("#"):
                text = self._incident_json(self._mutable[int(text[1:])])
            out.write(("\n  " if number == 0 else ",\n  ") + text)
        self._incidents.close()
        out.write("\n],\n\"report\": ")
        json.dump(report, out, ensure_ascii=False, indent=1)
        out.write("}\n")


_IncidentKey = tuple[str, int, str, str | None]  # (counter, line, kind, device)


@dataclass
class JournalComparison:
    """Where a replay of a journal disagrees with what the journal recorded for an input:
    its decision, or the incidents it released (the deductions a window may dispute).

    A device_offline incident may change after it is recorded (a ruling, a late report), so
    each outage's status is compared as it finally stands, in :meth:`finish`; with
    ``per_record`` false every incident is (where it was released does not matter).
    """

    checked: int = 0
    disagreements: int = 0
    shown: list[str] = field(default_factory=list)
    # How the two sides are named, and what explains a difference at a counter (if known).
    labels: tuple[str, str] = ("recorded", "replay gives")
    explain: Callable[[str | None, bool], str] | None = None
    per_record: bool = True
    _final_then: dict[_IncidentKey, tuple[bool, bool]] = field(default_factory=dict)
    _final_now: dict[_IncidentKey, Incident] = field(default_factory=dict)

    def compare(self, record_outcome: dict[str, Any], outputs: list[Output], seq: int,
                counter: str | None = None) -> None:
        self.checked += 1
        recorded = record_outcome.get("decision")
        then = None if recorded is None else (recorded["accepted"], recorded["reason"])
        derived = next((o for o in outputs if isinstance(o, Decision)), None)
        now = None if derived is None else (derived.accepted, derived.reason)
        incidents_then = []
        for i in record_outcome.get("incidents", ()):
            state = (i["exempt"], i.get("pending", False))
            if i["kind"] == "device_offline" or not self.per_record:
                self._final_then[_key(i)] = state
            else:
                incidents_then.append((i["kind"], i["line"], *state))
        for i in record_outcome.get("changed", ()):
            self._final_then[_key(i)] = (i["exempt"], i["pending"])
        incidents_now = []
        for o in outputs:
            if isinstance(o, IncidentChanged):  # may be of an incident before a checkpoint
                o = o.incident
                self._final_now[(o.counter, o.line, o.kind, o.device)] = o
            elif isinstance(o, Incident):
                if o.faults is not None or not self.per_record:
                    self._final_now[(o.counter, o.line, o.kind, o.device)] = o
                else:
                    incidents_now.append((o.kind, o.line, o.exempt, o.pending))
        differences = []
        was, gives = self.labels
        if now != then:
            differences.append(f"decision {was} {then}, {gives} {now}")
        if sorted(incidents_now) != sorted(incidents_then):
            differences.append(f"incidents {was} {sorted(incidents_then)}, {gives} "
                               f"{sorted(incidents_now)}")
        if differences:
            self._disagree(seq, "; ".join(differences), counter, False)

    def finish(self) -> None:
        """Compare the incidents kept for the end as they finally stand, each named by the
        record it stems from (an outage: its device_down)."""
        then, now = self._final_then, self._final_now
        was, gives = self.labels
        for key in sorted(then.keys() | now.keys(), key=lambda k: (k[1], k[0], k[2])):
            state_then = then.get(key)
            derived = now.get(key)
            state_now = None if derived is None else (derived.exempt, derived.pending)
            if state_then != state_now:
                counter, line, kind, device = key
                what = f"{kind} of {device}" if device else kind
                self._disagree(line, f"{what}: {was} {_status(state_then)}, {gives} "
                                     f"{_status(state_now)}", counter, kind == "device_offline")

    def _disagree(self, seq: int, text: str, counter: str | None, outage: bool) -> None:
        self.disagreements += 1
        if len(self.shown) < 1000:
            why = "" if self.explain is None else f" ({self.explain(counter, outage)})"
            self.shown.append(f"journal record {seq}: {text}{why}")


def _key(i: dict[str, Any]) -> _IncidentKey:
    return (i["counter"], i["line"], i["kind"], i.get("device"))


def _status(state: tuple[bool, bool] | None) -> str:
    if state is None:
        return "no incident"
    exempt, pending = state
    return "exempt" if exempt else "pending" if pending else "deducted"


class JournalReplay:
    """A journal's records through the current rules (for the report), checked against what
    the journal recorded. Records decided under older rules (the journal's meta says which)
    are also decided again under those rules: that replay is what the record is checked
    against, and where the current rules decide otherwise it is a version's change, listed
    with the reading that explains it, not a disagreement."""

    def __init__(self, config: HallConfig, month: str,
                 versions: list[tuple[int, int]] | None = None,
                 replayer: Replayer | None = None) -> None:
        # A replayer resumed from a checkpoint goes on from there (the center's reports).
        self.replayer = replayer or Replayer(config, month)
        self.comparison = JournalComparison()
        self.changes = JournalComparison(labels=("version 1 gave", f"version {RULES_VERSION} "
                                                 "gives"), explain=self._why, per_record=False)
        self._config = config
        self._versions = versions or [(1, RULES_VERSION)]
        self._then: RulesEngine | None = None
        if any(v != RULES_VERSION for _, v in self._versions):
            self._then = RulesEngine(config, displays=False,
                                     rules_version=self._versions[0][1])

    def feed(self, item: Event | Tick, record: Record) -> list[Output]:
        outputs = self.replayer.feed(item)
        recorded = record.outcome_dict()
        counter = item.counter if isinstance(item, Event) else None
        if self._then is None:
            self.comparison.compare(recorded, outputs, item.line, counter)
            return outputs
        self._then.rules_version = next(v for seq, v in reversed(self._versions)
                                        if seq <= item.line)
        then = self._then.handle(item) if isinstance(item, Event) \
            else self._then.advance(item.t)
        self.comparison.compare(recorded, then, item.line, counter)
        self.changes.compare(outcome_dict(then, self._config), outputs, item.line, counter)
        return outputs

    def finish(self) -> list[Output]:
        outputs = self.replayer.finish()
        self.comparison.finish()
        self.changes.finish()
        return outputs

    def _why(self, counter: str | None, outage: bool) -> str:
        if outage:
            return "a fault report exempts an outage only once the IT department verifies it"
        state = self.replayer.engine.counters.get(counter or "")
        reading = None if state is None else state.reading
        return reading or "the counter's state differs since an earlier change"


def record_timeline(events: Iterable[Event], config: HallConfig, journal: Journal,
                    batch: int = 256) -> int:
    """Decide each event and journal it with its outcome, with snapshots as the agent
    writes them (edge_agent.hall_state, which builds on this module)."""
    from edge_agent.hall_state import record_timeline as record  # it imports this module
    return record(events, config, journal, batch)

"""Replay (RULES.md §6): run a timeline or a journal through the rules and score a month.

Streaming: events are read, decided and written one at a time, so memory stays flat however
long the input; only the month's per-counter and per-staff tallies and the incidents waiting
to be written are kept.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO

from edge_agent.config import HallConfig
from edge_agent.journal import GENESIS, SNAPSHOT, Journal, Record, checked
from edge_agent.rules.engine import RulesEngine
from edge_agent.rules.model import Decision, Display, Event, Incident, Output, TicketOpened
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


def journal_events(records: Iterable[Record], parser: EventParser, after: int = 0,
                   head: bytes = GENESIS) -> Iterator[tuple[Event | Tick, Record]]:
    """The inputs a journal holds with their records, the chain checked as it is read (from
    the record after ``after``, whose hash is ``head``).

    An input's ``line`` is its record's sequence number. A snapshot's record is time passing
    to when it was taken (the live engine may have let silent deadlines fall due by then).
    """
    for r in checked(records, after, head):
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
           "t": format_time(i.t, config.tz), "penalty": i.penalty, "exempt": i.exempt}
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
        elif isinstance(o, TicketOpened):
            out.setdefault("tickets", []).append({"ticket": o.ticket, "staff": o.staff})
        elif isinstance(o, Display):
            out.setdefault("displays", []).append({"counter": o.counter, "screen": o.screen})
    return out


class ContractWriter:
    """Writes the replay document: decisions as they come, incidents spooled, report last."""

    def __init__(self, stream: IO[str], config: HallConfig) -> None:
        self._out = stream
        self._config = config
        # Incidents come last in the document but arrive throughout: spool them (to disk
        # past 1 MiB) so memory stays flat. Closed in close().
        self._incidents: IO[str] = tempfile.SpooledTemporaryFile(1 << 20, mode="w+")  # noqa: SIM115
        self._first_decision = True
        self._first_incident = True
        self._out.write('{"decisions": [')

    def write(self, outputs: list[Output]) -> None:
        for o in outputs:
            if isinstance(o, Decision):
                self._out.write(("\n  " if self._first_decision else ",\n  ")
                                + decision_json(o))
                self._first_decision = False
            elif isinstance(o, Incident):
                self._incidents.write(("\n  " if self._first_incident else ",\n  ")
                                      + json.dumps(incident_dict(o, self._config),
                                                   ensure_ascii=False))
                self._first_incident = False

    def close(self, report: dict[str, Any]) -> None:
        out = self._out
        out.write("\n],\n\"incidents\": [")
        self._incidents.seek(0)
        while chunk := self._incidents.read(1 << 16):
            out.write(chunk)
        self._incidents.close()
        out.write("\n],\n\"report\": ")
        json.dump(report, out, ensure_ascii=False, indent=1)
        out.write("}\n")


@dataclass
class JournalComparison:
    """Where a replay of a journal disagrees with what the journal recorded for an input:
    its decision, or the incidents it released (the deductions a window may dispute)."""

    checked: int = 0
    disagreements: int = 0
    shown: list[str] = field(default_factory=list)

    def compare(self, record_outcome: dict[str, Any], outputs: list[Output], seq: int) -> None:
        self.checked += 1
        recorded = record_outcome.get("decision")
        then = None if recorded is None else (recorded["accepted"], recorded["reason"])
        derived = next((o for o in outputs if isinstance(o, Decision)), None)
        now = None if derived is None else (derived.accepted, derived.reason)
        incidents_then = sorted((i["kind"], i["line"], i["exempt"])
                                for i in record_outcome.get("incidents", ()))
        incidents_now = sorted((i.kind, i.line, i.exempt) for i in outputs
                               if isinstance(i, Incident))
        differences = []
        if now != then:
            differences.append(f"decision recorded {then}, replay gives {now}")
        if incidents_now != incidents_then:
            differences.append(f"incidents recorded {incidents_then}, replay gives "
                               f"{incidents_now}")
        if differences:
            self.disagreements += 1
            if len(self.shown) < 1000:
                self.shown.append(f"journal record {seq}: {'; '.join(differences)}")


def record_timeline(events: Iterable[Event], config: HallConfig, journal: Journal,
                    batch: int = 256) -> int:
    """Decide each event and journal it with its outcome, with snapshots as the agent
    writes them (edge_agent.hall_state, which builds on this module)."""
    from edge_agent.hall_state import record_timeline as record  # it imports this module
    return record(events, config, journal, batch)

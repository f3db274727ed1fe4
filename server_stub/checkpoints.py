"""Month reports from checkpoints, and the cache of closed months' reports.

A report of month M needs the rules' state at M's start (who is logged in, an outage or a
pause that began before), which a replay from record 1 rebuilds each time: slower as history
grows. Here every replay keeps, as it crosses the end of a month X, the state after the last
record of X (``hall:{H}:ckpt`` field X: the engine, the time order, the staff seen, the
record's seq and hash). The report of M then resumes from the checkpoint of the latest month
before M and replays from there. A checkpoint never changes: records are appended in time
order, so once a record of a later month is stored nothing can change the state at X's end.

A closed month's report (the head is past its end) is cached (``hall:{H}:reports`` field M)
and served until a record arrives that may change it; :func:`server_stub.store.Store.append`
drops it in the transaction that stores such a record:

- a fault record (``fault_report``, ``fault_verified``, ``fault_cleared``) naming a device
  that has a device_offline incident in the month (``hall:{H}:report_devices`` field M):
  a ruling later may change the incident (RULES v2), in every month that holds one;
- a counter or staff member never seen before: the agent's report lists every counter and
  staff member of the journal in every month (with zeros), so all cached months change.

Checkpoints and cached reports carry the hall configuration's fingerprint: a changed
configuration ignores them (they are rebuilt by the next replay).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from edge_agent.config import HallConfig
from edge_agent.journal import GENESIS, Record
from edge_agent.replay import Replayer
from edge_agent.rules.calendar import from_us
from edge_agent.rules.engine import RulesEngine
from edge_agent.rules.vocabulary import IncidentKind
from edge_agent.scoring import month_bounds
from server_stub.keys import hall_key
from server_stub.reports import MonthReplay, Sink, check_month, replay_month
from server_stub.store import (
    _COUNTER,
    _DEVICE,
    _STAFF,
    FAULT_KINDS,
    Store,
    head_key,
    report_devices_key,
    reports_key,
)

log = logging.getLogger("server_stub.checkpoints")


def checkpoints_key(hall: str) -> str:
    return hall_key(hall, "ckpt")


def fingerprint(config: HallConfig) -> str:
    """The same for the same configuration in every process (sets sorted: their order
    follows string and date hashes, which differ between processes)."""
    return hashlib.sha256(_stable(config).encode()).hexdigest()[:16]


def _stable(value: Any) -> str:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner = ", ".join(f"{f.name}={_stable(getattr(value, f.name))}"
                          for f in dataclasses.fields(value))
        return f"{type(value).__name__}({inner})"
    if isinstance(value, dict):
        return "{" + ", ".join(sorted(f"{_stable(k)}: {_stable(v)}"
                                      for k, v in value.items())) + "}"
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(_stable(v) for v in value)) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_stable(v) for v in value) + "]"
    return repr(value)


@dataclass
class Checkpoint:
    """The replay's state after record ``seq`` (hash ``hash``), the last of month ``month``.

    Pickled into Redis: the center's own store, written only by the center."""

    month: str
    seq: int
    hash: bytes
    engine: RulesEngine
    last_t: int | None
    last_line: int
    staff: set[str] = field(default_factory=set)
    config: str = ""

    def resume(self, config: HallConfig, month: str) -> Replayer:
        replayer = Replayer(config, month)
        replayer.engine = self.engine
        # The replayer's time order is restored with it (a private part, set here only).
        replayer._order.last_t, replayer._order._last_line = self.last_t, self.last_line
        for staff in sorted(self.staff):
            replayer.tally.see_staff(staff)
        return replayer


def month_of(t_us: int, config: HallConfig) -> str:
    moment: datetime = from_us(t_us, config.tz)
    return f"{moment:%Y-%m}"


class _Crossings:
    """Passes the records to the replay and takes a checkpoint each time the replay is
    about to cross into a later month (the previous record fully fed)."""

    def __init__(self, replayer: Replayer, config: HallConfig, start: Checkpoint | None,
                 staff: set[str]) -> None:
        self.replayer = replayer
        self.config = config
        self.staff = staff
        self.taken: list[tuple[str, bytes]] = []
        self.last: Record | None = None
        self._month = start.month if start else None
        self._month_end = month_bounds(start.month, config.tz)[1] if start else None

    def wrap(self, records: Iterable[Record]) -> Iterator[Record]:
        for r in records:
            last = self.last
            if last is not None and self._month_end is not None and r.t_us >= self._month_end:
                self._take(last)
            if self._month_end is None or r.t_us >= self._month_end:
                self._month = month_of(r.t_us, self.config)
                self._month_end = month_bounds(self._month, self.config.tz)[1]
            if r.kind == "staff_login" and (m := _STAFF.search(r.event)) is not None:
                self.staff.add(json.loads(f'"{m[1]}"'))
            self.last = r
            yield r

    def _take(self, last: Record) -> None:
        assert self._month is not None
        order = self.replayer._order
        point = Checkpoint(self._month, last.seq, last.hash, self.replayer.engine,
                           order.last_t, order._last_line, self.staff, fingerprint(self.config))
        self.taken.append((self._month, pickle.dumps(point)))  # the state as it is now


def latest_before(store: Store, hall: str, config: HallConfig, month: str
                  ) -> Checkpoint | None:
    """The checkpoint of the latest month before ``month`` (of this configuration)."""
    raw: dict[bytes, bytes] = store.redis.hgetall(checkpoints_key(hall))
    wanted = fingerprint(config)
    for name in sorted((m.decode() for m in raw), reverse=True):
        if name < month:
            try:
                point: Checkpoint = pickle.loads(raw[name.encode()])
            except Exception as exc:  # written by another version of the code: replay instead
                log.warning("hall %s: checkpoint %s does not load (%s); not used", hall, name,
                            exc)
                continue
            if point.config == wanted:
                return point
    return None


def replay(store: Store, hall: str, config: HallConfig, month: str,
           sink: Sink | None = None) -> tuple[MonthReplay, Record | None]:
    """The month's replay from the latest checkpoint before it; checkpoints it crosses are
    kept. Also the last record replayed (None: the hall has none after the checkpoint)."""
    check_month(month)
    start = latest_before(store, hall, config, month)
    replayer = start.resume(config, month) if start else Replayer(config, month)
    crossings = _Crossings(replayer, config, start, set(start.staff) if start else set())
    records = store.records(hall, after=start.seq if start else 0)
    link = (start.seq + 1, start.hash) if start else (1, GENESIS)
    result = replay_month(crossings.wrap(records), config, month, sink, replayer, link)
    if crossings.taken:
        store.redis.hset(checkpoints_key(hall), mapping=dict(crossings.taken))
    return result, crossings.last or None


def month_replay(store: Store, hall: str, config: HallConfig, month: str) -> MonthReplay:
    """The month's report (and evidence): the cached one while valid, else replayed from
    the latest checkpoint, and cached when the month is closed."""
    check_month(month)
    cached = _cached(store, hall, config, month)
    if cached is not None:
        return cached
    result, last = replay(store, hall, config, month)
    end = month_bounds(month, config.tz)[1]
    if last is not None and last.t_us >= end:
        _keep(store, hall, config, month, result, last.seq)
    return result


def _cached(store: Store, hall: str, config: HallConfig, month: str) -> MonthReplay | None:
    raw: bytes | None = store.redis.hget(reports_key(hall), month)
    if raw is None:
        return None
    doc = json.loads(raw)
    if doc["config"] != fingerprint(config):
        return None
    return MonthReplay(doc["report"], doc["evidence"], doc["checked"], doc["disagreements"],
                       doc["shown"])


def _devices(result: MonthReplay) -> list[str]:
    """The devices with a device_offline incident in the month (a ruling may change it)."""
    return sorted({e["device"] for rows in result.evidence.values() for incidents in
                   rows.values() for e in incidents
                   if e["kind"] == IncidentKind.DEVICE_OFFLINE and e["device"]})


def _keep(store: Store, hall: str, config: HallConfig, month: str, result: MonthReplay,
          upto: int) -> None:
    """Cache the report computed from records up to ``upto``, unless a record stored since
    may change it (such records drop the cache as they are stored; these came before)."""
    devices = _devices(result)
    doc = json.dumps({"report": result.report, "evidence": result.evidence,
                      "checked": result.checked, "disagreements": result.disagreements,
                      "shown": result.shown, "upto": upto, "config": fingerprint(config)},
                     ensure_ascii=False)
    pipe: Any
    try:
        with store.redis.pipeline(transaction=True) as pipe:
            pipe.watch(head_key(hall))
            head = int(pipe.hget(head_key(hall), "seq") or 0)
            if head > upto and _changes(store.records(hall, upto, head), result, devices):
                pipe.unwatch()
                return
            pipe.multi()
            pipe.hset(reports_key(hall), month, doc)
            pipe.hset(report_devices_key(hall), month, json.dumps(devices))
            pipe.execute()
    except redis.WatchError:
        pass  # records arrived meanwhile: the next request replays again


def _changes(records: Iterable[Record], result: MonthReplay, devices: list[str]) -> bool:
    counters, staff = result.report["counters"], result.report["staff"]
    watched = set(devices)
    for r in records:
        if (m := _COUNTER.search(r.event)) is not None and m[1] not in counters:
            return True
        if r.kind == "staff_login" and (m := _STAFF.search(r.event)) and m[1] not in staff:
            return True
        if r.kind in FAULT_KINDS and (m := _DEVICE.search(r.event)) and m[1] in watched:
            return True
    return False

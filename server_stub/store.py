"""The center's storage in Redis: per hall its journal records, its head and its fault records.

Every key is built by :mod:`server_stub.keys` (the hall in a hash tag, ``hall:{qingpu}:...``),
so one hall's keys share a Redis Cluster slot and a batch is stored in one transaction on a
single Redis and on a cluster alike:

- ``records``: a list; element ``i`` is record ``base + i + 1``, stored as
  ``"<t_us> <kind> <hash hex> <len(event)> <event><outcome>"`` (the JSON texts exactly as
  journaled; ``prev`` is the previous record's hash, so it is not stored twice).
- ``head``: a hash ``seq``, ``hash`` (hex), ``agent``: the last stored record; ``base``,
  ``base_hash``: the last record moved to the archive and its hash (the chain's link).
- ``months``: a hash, archived month -> ``"<first seq> <last seq> <last hash>"``: the
  records of that month are in the archive file (:mod:`server_stub.archive_files`).
- ``faults``: a list of fault records as JSON; element ``ref - 1`` is ``ref``.
- ``names``: a set of ``c:COUNTER`` and ``s:STAFF`` seen, ``reports`` and
  ``report_devices``: the month report cache (:mod:`server_stub.checkpoints`).

A batch is stored with WATCH on the head and MULTI/EXEC: all of its new records and the new
head, or nothing (a concurrent writer makes EXEC fail, and the batch is checked again). The
same transaction drops the cached reports a new record may change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from edge_agent.journal import GENESIS, Record
from server_stub import archive_files
from server_stub.chain import EMPTY, Head, new_records
from server_stub.keys import hall_key

READ_CHUNK = 5000
WATCH_RETRIES = 8
# Records whose arrival may change a closed month's report: a fault ruling (RULES v2) on a
# device whose outage the month holds.
FAULT_KINDS = frozenset(("fault_report", "fault_verified", "fault_cleared"))
_COUNTER = re.compile(r'"counter":"((?:[^"\\]|\\.)*)"')
_STAFF = re.compile(r'"staff":"((?:[^"\\]|\\.)*)"')
_DEVICE = re.compile(r'"device":"((?:[^"\\]|\\.)*)"')


def records_key(hall: str) -> str:
    return hall_key(hall, "records")


def head_key(hall: str) -> str:
    return hall_key(hall, "head")


def faults_key(hall: str) -> str:
    return hall_key(hall, "faults")


def months_key(hall: str) -> str:
    return hall_key(hall, "months")


def names_key(hall: str) -> str:
    return hall_key(hall, "names")


def reports_key(hall: str) -> str:
    return hall_key(hall, "reports")


def report_devices_key(hall: str) -> str:
    return hall_key(hall, "report_devices")


@dataclass(frozen=True, slots=True)
class Stored:
    stored: int
    already: int
    head: Head


@dataclass(frozen=True, slots=True)
class HeadState:
    """The head and what of the chain is in Redis: records base+1 .. head."""

    head: Head
    base: int
    base_hash: bytes


@dataclass(frozen=True, slots=True)
class Segment:
    """An archived month: records first..last in the month's file."""

    month: str
    first: int
    last: int
    last_hash: bytes


_HEAD_FIELDS = ["seq", "hash", "base", "base_hash"]


class Store:
    """A hall-keyed view of one Redis (a redis-py client: one server, a cluster, fakeredis)
    and of the archive folder, when there is one."""

    def __init__(self, client: Any, archive_dir: Path | None = None) -> None:
        # redis-py's annotations mix the sync and asyncio clients; results are typed below.
        self.redis: Any = client
        self.archive_dir = archive_dir

    def head(self, hall: str) -> Head:
        return self.head_state(hall).head

    def head_state(self, hall: str) -> HeadState:
        return _head_state(self.redis.hmget(head_key(hall), _HEAD_FIELDS))

    def append(self, hall: str, agent: str, records: Sequence[Record]) -> Stored:
        """Store the records the center lacks, after checking them against its chain."""
        for _ in range(WATCH_RETRIES):
            try:
                return self._append_once(hall, agent, records)
            except redis.WatchError:
                continue  # another request stored records meanwhile: check again
        raise redis.WatchError(f"hall {hall}: the head kept changing under {WATCH_RETRIES} "
                               "attempts")

    def _append_once(self, hall: str, agent: str, records: Sequence[Record]) -> Stored:
        pipe: Any
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.watch(head_key(hall))
            state = _head_state(pipe.hmget(head_key(hall), _HEAD_FIELDS))
            head = state.head
            fresh = new_records(head, self._held(pipe, hall, state, records), records)
            if not fresh:
                pipe.unwatch()
                return Stored(0, len(records), head)
            stale = _stale_reports(pipe, hall, fresh)
            pipe.multi()
            pipe.rpush(records_key(hall), *(encode(r) for r in fresh))
            top = fresh[-1]
            pipe.hset(head_key(hall), mapping={"seq": top.seq, "hash": top.hash.hex(),
                                               "agent": agent})
            stale.apply(pipe, hall)
            pipe.execute()
            return Stored(len(fresh), len(records) - len(fresh), Head(top.seq, top.hash))

    def _held(self, pipe: Any, hall: str, state: HeadState,
              records: Sequence[Record]) -> list[bytes]:
        """The hashes the center holds of the batch's records it has (archived or not)."""
        first, last = records[0].seq, records[-1].seq
        held: list[bytes] = []
        if first > state.head.seq:
            return held
        if first <= state.base:  # a resend of archived records: compare with the files
            held += [r.hash for r in self._archived(hall, first - 1, min(last, state.base))]
        lo = max(first, state.base + 1)
        hi = min(last, state.head.seq)
        if lo <= hi:
            rows: list[bytes] = pipe.lrange(records_key(hall), lo - state.base - 1,
                                            hi - state.base - 1)
            held += [_hash_of(row) for row in rows]
        return held

    def records(self, hall: str, after: int = 0, upto: int | None = None,
                chunk: int = READ_CHUNK) -> Iterator[Record]:
        """The stored records after ``after`` in order (to the head as it was when called),
        from the archive files first where they were archived."""
        state = self.head_state(hall)
        end = state.head.seq if upto is None else upto
        if after < state.base:
            yield from self._archived(hall, after, min(end, state.base))
            after = state.base
        yield from self._in_redis(hall, state, after, end, chunk)

    def _in_redis(self, hall: str, state: HeadState, after: int, end: int,
                  chunk: int) -> Iterator[Record]:
        base = state.base
        prev = state.base_hash if after == base else _hash_of(self._row(hall, base, after))
        seq = after + 1
        while seq <= end:
            rows = self._rows(hall, base, seq, min(end, seq + chunk - 1))
            if rows is None:  # archived meanwhile: read on from the files
                yield from self.records(hall, seq - 1, end, chunk)
                return
            if not rows:
                raise KeyError(f"hall {hall}: no record {seq}")
            for row in rows:
                r = decode(row, seq, prev)
                yield r
                seq, prev = seq + 1, r.hash

    def _rows(self, hall: str, base: int, first: int, last: int) -> list[bytes] | None:
        """Records first..last from Redis, or None if an archive run moved the base (the
        list's indexes shifted): the base and the rows are read in one transaction."""
        pipe: Any
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(head_key(hall), "base")
            pipe.lrange(records_key(hall), first - base - 1, last - base - 1)
            now, rows = pipe.execute()
        return rows if int(now or 0) == base else None

    def _row(self, hall: str, base: int, seq: int) -> bytes:
        row: bytes | None = self.redis.lindex(records_key(hall), seq - base - 1)
        if row is None:
            raise KeyError(f"hall {hall}: no record {seq}")
        return row

    # --- the archive ----------------------------------------------------------------------

    def segments(self, hall: str) -> list[Segment]:
        """The hall's archived months, in order."""
        raw: dict[bytes, bytes] = self.redis.hgetall(months_key(hall))
        out = []
        for month, value in raw.items():
            first, last, digest = value.decode().split()
            out.append(Segment(month.decode(), int(first), int(last), bytes.fromhex(digest)))
        return sorted(out, key=lambda s: s.first)

    def _archived(self, hall: str, after: int, upto: int) -> Iterator[Record]:
        if self.archive_dir is None:
            raise KeyError(f"hall {hall}: records up to {upto} are archived, but this center "
                           "has no [archive] dir")
        for seg in self.segments(hall):
            if seg.last <= after or seg.first > upto:
                continue
            path = archive_files.month_path(self.archive_dir, hall, seg.month)
            for r in archive_files.read(path, after):
                if r.seq > upto:
                    break
                yield r

    def drop_archived(self, hall: str, seg: Segment) -> bool:
        """Drop records seg.first..seg.last from Redis, keeping the chain's link, once they
        are in a verified file. False (nothing dropped) if they are no longer the oldest
        records in Redis or differ from the segment (another run did it)."""
        pipe: Any
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.watch(head_key(hall))
            state = _head_state(pipe.hmget(head_key(hall), _HEAD_FIELDS))
            count = seg.last - seg.first + 1
            if state.base != seg.first - 1 or state.head.seq < seg.last:
                pipe.unwatch()
                return False
            row: bytes | None = pipe.lindex(records_key(hall), count - 1)
            if row is None or _hash_of(row) != seg.last_hash:
                pipe.unwatch()
                return False
            pipe.multi()
            pipe.ltrim(records_key(hall), count, -1)
            pipe.hset(head_key(hall), mapping={"base": seg.last,
                                               "base_hash": seg.last_hash.hex()})
            pipe.hset(months_key(hall), seg.month,
                      f"{seg.first} {seg.last} {seg.last_hash.hex()}")
            pipe.execute()
            return True

    # --- fault records --------------------------------------------------------------------

    def add_fault(self, hall: str, fault: dict[str, Any]) -> int:
        """Keep a fault record; its ref is its place in the hall's list (1, 2, ...)."""
        ref: int = self.redis.rpush(faults_key(hall), json.dumps(fault, ensure_ascii=False))
        return ref

    def faults(self, hall: str, after: int, limit: int) -> list[dict[str, Any]]:
        rows: list[bytes] = self.redis.lrange(faults_key(hall), after, after + limit - 1)
        return [{"ref": after + i + 1, **json.loads(row)} for i, row in enumerate(rows)]

    def ping(self) -> bool:
        return bool(self.redis.ping())


@dataclass
class _Stale:
    """What a batch's new records invalidate in the hall's month report cache."""

    new_names: list[str]
    months: list[str]

    def apply(self, pipe: Any, hall: str) -> None:
        if self.new_names:
            pipe.sadd(names_key(hall), *self.new_names)
            # A counter or staff member never seen before is listed (with zeros) in every
            # month's report, as the agent's own report of the journal lists them.
            pipe.delete(reports_key(hall), report_devices_key(hall))
        elif self.months:
            pipe.hdel(reports_key(hall), *self.months)
            pipe.hdel(report_devices_key(hall), *self.months)


def _stale_reports(pipe: Any, hall: str, fresh: Sequence[Record]) -> _Stale:
    """Read (in the watched transaction) which cached month reports the records change."""
    names: set[str] = set()
    devices: set[str] = set()
    for r in fresh:
        if (m := _COUNTER.search(r.event)) is not None:
            names.add("c:" + m[1])
        if r.kind == "staff_login" and (m := _STAFF.search(r.event)) is not None:
            names.add("s:" + m[1])
        elif r.kind in FAULT_KINDS and (m := _DEVICE.search(r.event)) is not None:
            devices.add(m[1])
    ordered = sorted(names)
    known: list[int] = pipe.smismember(names_key(hall), ordered) if ordered else []
    new_names = [n for n, seen in zip(ordered, known, strict=True) if not seen]
    months: list[str] = []
    if devices and not new_names:
        by_month: dict[bytes, bytes] = pipe.hgetall(report_devices_key(hall))
        months = [m.decode() for m, held in by_month.items()
                  if devices & set(json.loads(held))]
    return _Stale(new_names, months)


def encode(r: Record) -> str:
    return f"{r.t_us} {r.kind} {r.hash.hex()} {len(r.event)} {r.event}{r.outcome}"


def decode(row: bytes, seq: int, prev: bytes) -> Record:
    t_us, kind, digest, size, rest = row.decode().split(" ", 4)
    n = int(size)
    return Record(seq, int(t_us), kind, rest[:n], rest[n:], prev, bytes.fromhex(digest))


def row_time(row: bytes) -> int:
    return int(row.split(b" ", 1)[0])


def _hash_of(row: bytes) -> bytes:
    return bytes.fromhex(row.split(b" ", 3)[2].decode())


def _head_state(values: Sequence[Any]) -> HeadState:
    seq, digest, base, base_hash = values
    head = EMPTY if seq is None else Head(int(seq), bytes.fromhex(digest.decode()))
    if base is None:
        return HeadState(head, 0, GENESIS)
    return HeadState(head, int(base), bytes.fromhex(base_hash.decode()))

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
- ``faults`` also holds the IT department's rulings: each entry has ``kind`` ``report`` or
  ``cleared`` (a report's ref is ``center-N``) or ``ruling``, in the order they were filed.
- ``refs``: a hash indexing the repair records the journal holds (the agent's
  ``fault_report`` events with a ``ref``), filled at ingest in the batch's transaction:
  field ``"<device> <ref>"``, value ``{"t_us", "source", "reason", "seq"}``.
- ``cleared``: a hash, device -> the t_us of the journal's latest fault_cleared.
- ``followups``: the console's bad-rating follow-ups (``server_stub.followup``).
- ``center:{center}:...``: the console's accounts, sessions, login failures and audit log
  (``server_stub.accounts``, ``server_stub.sessions``, ``server_stub.audit``).

A batch is stored with WATCH on the head and MULTI/EXEC: all of its new records and the new
head, or nothing (a concurrent writer makes EXEC fail, and the batch is checked again). The
same transaction drops the cached reports a new record may change.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import redis

from edge_agent.journal import GENESIS, Record
from edge_agent.rules.calendar import from_us
from edge_agent.rules.vocabulary import FaultStatus, FaultVerdict, Source
from server_stub import archive_files
from server_stub.chain import EMPTY, Head, new_records
from server_stub.errors import Rejection, schema_error
from server_stub.keys import hall_key

VERDICTS = tuple(FaultVerdict)
STATUS_OF = {FaultVerdict.DEVICE_FAULT: FaultStatus.VERIFIED,
             FaultVerdict.NOT_DEVICE_FAULT: FaultStatus.REJECTED}
CENTER_REF = re.compile(r"center-([1-9][0-9]{0,14})")
# What marks a journal event the ref index may need (canonical JSON: no spaces), so the
# other records are not parsed at ingest (one substring test a record).
_FAULT_MARK = '"type":"fault_'

_UTC = ZoneInfo("UTC")
READ_CHUNK = 5000
WATCH_RETRIES = 8
# Records whose arrival may change a closed month's report: a fault ruling (RULES v2) on a
# device whose outage the month holds.
FAULT_KINDS = frozenset(("fault_report", "fault_verified", "fault_cleared"))
_COUNTER = re.compile(r'"counter":"((?:[^"\\]|\\.)*)"')
_STAFF = re.compile(r'"staff":"((?:[^"\\]|\\.)*)"')
_DEVICE = re.compile(r'"device":"((?:[^"\\]|\\.)*)"')
_TYPE = re.compile(r'"type":"([a-z_]+)"')


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


def refs_key(hall: str) -> str:
    return f"hall:{{{hall}}}:refs"


def cleared_key(hall: str) -> str:
    return f"hall:{{{hall}}}:cleared"


def followups_key(hall: str) -> str:
    """The console's bad-rating follow-ups of a hall: a hash, journal seq -> state JSON."""
    return f"hall:{{{hall}}}:followups"


def center_key(name: str) -> str:
    """A key of the center itself (console accounts, sessions, audit log), not of one hall.

    They share the hash tag ``{center}``, so on a Redis Cluster they live in one slot and a
    MULTI/EXEC over several of them (a session and its user) is allowed.
    """
    return f"center:{{center}}:{name}"


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
            refs, cleared = fault_index(fresh)
            if refs:
                pipe.hset(refs_key(hall), mapping=refs)
            if cleared:
                pipe.hset(cleared_key(hall), mapping=cleared)
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

    def rows_at(self, hall: str, seqs: Sequence[int]) -> dict[int, tuple[int, str, str, str]]:
        """Records by seq as ``(t_us, kind, event, outcome)`` texts (not chain-checked: the
        console shows them beside a report that read the checked chain); archived ones are
        read from their month files."""
        base = _head_state(self.redis.hmget(head_key(hall), _HEAD_FIELDS)).base
        out = {r.seq: (r.t_us, r.kind, r.event, r.outcome)
               for seq in seqs if seq <= base
               for r in self._archived(hall, seq - 1, seq)}
        live = [seq for seq in seqs if seq > base]
        pipe: Any
        with self.redis.pipeline(transaction=False) as pipe:
            for seq in live:
                pipe.lindex(records_key(hall), seq - base - 1)
            rows: list[bytes | None] = pipe.execute()
        out.update({seq: _texts(row) for seq, row in zip(live, rows, strict=True)
                    if row is not None})
        return out

    def rows_since(self, hall: str, since_us: int, chunk: int = 2000
                   ) -> list[tuple[int, int, str, str, str]]:
        """The newest records whose time is ``since_us`` or later, as ``(seq, t_us, kind,
        event, outcome)`` in order, read backwards from the head (the live overview); only
        records still in Redis (archived months are closed ones)."""
        state = _head_state(self.redis.hmget(head_key(hall), _HEAD_FIELDS))
        base = state.base
        out: list[tuple[int, int, str, str, str]] = []
        end = state.head.seq
        while end > base:
            first = max(base + 1, end - chunk + 1)
            rows = self._rows(hall, base, first, end)
            if rows is None:  # an archive run moved the base meanwhile: start again
                return self.rows_since(hall, since_us, chunk)
            for seq in range(end, first - 1, -1):
                t_us, kind, event, outcome = _texts(rows[seq - first])
                if t_us < since_us:
                    return out[::-1]
                out.append((seq, t_us, kind, event, outcome))
            end = first - 1
        return out[::-1]

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

    # --- repair records and rulings -------------------------------------------------------

    def add_fault(self, hall: str, fault: dict[str, Any]) -> int:
        """Keep a fault record; its number is its place in the hall's list (1, 2, ...), and a
        report's ref is ``center-<number>``."""
        ref: int = self.redis.rpush(faults_key(hall), json.dumps(fault, ensure_ascii=False))
        return ref

    def faults(self, hall: str, after: int, limit: int) -> list[dict[str, Any]]:
        """Entries after number ``after``: reports, clears and rulings in one ordered list."""
        rows: list[bytes] = self.redis.lrange(faults_key(hall), after, after + limit - 1)
        return [_entry(after + i + 1, row) for i, row in enumerate(rows)]

    def find_record(self, hall: str, device: str, ref: str) -> dict[str, Any] | None:
        """The repair record ``ref`` of ``device`` in ``hall``: filed at the center
        (``center-N``) or journaled by the agent; None when the hall has no such record."""
        match = CENTER_REF.fullmatch(ref)
        if match:
            row: bytes | None = self.redis.lindex(faults_key(hall), int(match[1]) - 1)
            entry = None if row is None else _entry(int(match[1]), row)
            if entry is None or entry["kind"] != "report" or entry["device"] != device:
                return None
            return entry
        held: bytes | None = self.redis.hget(refs_key(hall), f"{device} {ref}")
        return None if held is None else json.loads(held)

    def add_ruling(self, hall: str, device: str, ref: str, verdict: str, note: str, by: str,
                   t_us: int | None = None) -> int:
        """Record the IT department's ruling on the repair record (device, ref); its number
        in the hall's list. Refused, storing nothing: a bad verdict (422, field verdict),
        a record the hall does not have (404, field ref)."""
        if verdict not in VERDICTS:
            raise schema_error("verdict", f"must be one of {', '.join(VERDICTS)}, got "
                                          f"{verdict!r}")
        if self.find_record(hall, device, ref) is None:
            raise Rejection(404, "not_found", f"ref: hall {hall} has no repair record {ref!r} "
                                              f"of device {device!r}", field="ref")
        when = time.time_ns() // 1000 if t_us is None else t_us
        ruling = {"kind": "ruling", "device": device, "fault_ref": ref, "verdict": verdict,
                  "note": note, "filed_by": by, "t_us": when,
                  "t": from_us(when, _UTC).isoformat()}
        return self.add_fault(hall, ruling)

    def fault_records(self, hall: str, verification: bool = True) -> list[dict[str, Any]]:
        """Every repair record of the hall, oldest first: ``device``, ``ref``, ``source``,
        ``t_us``, ``reason``, ``open`` (not cleared since), ``status`` (``unverified``,
        ``verified``, ``rejected``: RULES.md §3, the latest ruling wins) and its
        ``rulings``. ``verification``: the hall's ``[rules] fault_verification``; false,
        every record starts verified."""
        records: dict[tuple[str, str], dict[str, Any]] = {}
        rulings: list[dict[str, Any]] = []
        cleared: dict[str, int] = {}
        for field, value in self.redis.hgetall(refs_key(hall)).items():
            device, ref = field.decode().split(" ", 1)
            held = json.loads(value)
            records[(device, ref)] = _record(device, ref, held["source"], held["t_us"],
                                             held.get("reason", ""), f"journal #{held['seq']}",
                                             verification)
        for device, t_us in self.redis.hgetall(cleared_key(hall)).items():
            cleared[device.decode()] = int(t_us)
        for entry in self.faults(hall, 0, 1 << 40):
            device = entry["device"]
            if entry["kind"] == "report":
                ref = f"center-{entry['ref']}"
                records[(device, ref)] = _record(device, ref, entry["source"], entry["t_us"],
                                                 entry["reason"], entry["filed_by"],
                                                 verification)
            elif entry["kind"] == "cleared":
                cleared[device] = max(cleared.get(device, 0), entry["t_us"])
            else:
                rulings.append(entry)
        for ruling in rulings:
            record = records.get((ruling["device"], ruling["fault_ref"]))
            if record is not None:
                record["status"] = STATUS_OF[ruling["verdict"]]
                record["rulings"].append({k: ruling[k] for k in (
                    "ref", "verdict", "note", "filed_by", "t_us", "t")})
        for record in records.values():
            record["open"] = record["t_us"] > cleared.get(record["device"], -1)
        return sorted(records.values(), key=lambda r: (r["t_us"], r["device"], r["ref"]))

    def ping(self) -> bool:
        return bool(self.redis.ping())


def fault_index(records: Sequence[Record]) -> tuple[dict[str, str], dict[str, int]]:
    """What the ref index learns from journal records: ({"<device> <ref>": record JSON},
    {device: t_us of its latest fault_cleared}). A report that came from the center
    (``center-N``) is found in the center's own list, so it is not indexed twice."""
    refs: dict[str, str] = {}
    cleared: dict[str, int] = {}
    for r in records:
        # The live agent journals events as kind "event", `edge_agent record` as their type.
        if _FAULT_MARK not in r.event or r.kind == "tick":
            continue
        event = json.loads(r.event)
        device = event.get("device")
        if not isinstance(device, str) or event["type"] not in ("fault_report", "fault_cleared"):
            continue
        if event["type"] == "fault_cleared":
            cleared[device] = max(cleared.get(device, 0), r.t_us)
            continue
        ref = event.get("ref")
        if isinstance(ref, str) and ref and not CENTER_REF.fullmatch(ref):
            refs[f"{device} {ref}"] = json.dumps(
                {"t_us": r.t_us, "source": event.get("source") or "staff",
                 "reason": event.get("reason") or "", "seq": r.seq}, ensure_ascii=False)
    return refs, cleared


def _entry(number: int, row: bytes) -> dict[str, Any]:
    """A list entry as the API gives it; entries stored before rulings existed had no kind
    and no source (a record filed at the center then was a staff call)."""
    entry: dict[str, Any] = json.loads(row)
    if "kind" not in entry:
        entry["kind"] = "report" if entry.get("active") else "cleared"
    if entry["kind"] != "ruling":
        entry.setdefault("source", "it" if entry.get("filed_by") == "it" else "staff")
    return {"ref": number, **entry}


def _record(device: str, ref: str, source: str, t_us: int, reason: str, filed_by: str,
            verification: bool) -> dict[str, Any]:
    trusted = source == Source.IT or not verification
    return {"device": device, "ref": ref, "source": source, "t_us": t_us, "reason": reason,
            "filed_by": filed_by,
            "status": FaultStatus.VERIFIED if trusted else FaultStatus.UNVERIFIED,
            "rulings": []}


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
        # The record's kind is "event" from the live agent (the event type from `record`):
        # the event's own type says what it is.
        etype = m[1] if (m := _TYPE.search(r.event)) is not None else r.kind
        if etype == "staff_login" and (m := _STAFF.search(r.event)) is not None:
            names.add("s:" + m[1])
        elif etype in FAULT_KINDS and (m := _DEVICE.search(r.event)) is not None:
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


def _texts(row: bytes) -> tuple[int, str, str, str]:
    t_us, kind, _digest, size, rest = row.decode().split(" ", 4)
    n = int(size)
    return int(t_us), kind, rest[:n], rest[n:]


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

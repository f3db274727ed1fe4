"""The center's storage in Redis: per hall its journal records, its head and its fault records.

Keys carry the hall in a hash tag, ``hall:{qingpu}:records``, so one hall's keys share a
Redis Cluster slot and a batch can be stored in one transaction on a cluster too:

- ``hall:{H}:records``: a list; element ``seq - 1`` is record ``seq``, stored as
  ``"<t_us> <kind> <hash hex> <len(event)> <event><outcome>"`` (the JSON texts exactly as
  journaled; ``prev`` is the previous element's hash, so it is not stored twice).
- ``hall:{H}:head``: a hash ``seq``, ``hash`` (hex), ``agent``: the last stored record.
- ``hall:{H}:faults``: a list as JSON, element ``N - 1`` is entry ``N``: the fault records
  filed at the center (``kind`` ``report`` or ``cleared``; a report's ref is ``center-N``)
  and the IT department's rulings (``kind: "ruling"``), in the order they were filed.
- ``hall:{H}:refs``: a hash indexing the repair records the journal holds (the agent's
  ``fault_report`` events with a ``ref``), filled at ingest in the batch's transaction:
  field ``"<device> <ref>"``, value ``{"t_us", "source", "reason", "seq"}``.
- ``hall:{H}:cleared``: a hash, device -> the t_us of the journal's latest fault_cleared.

A batch is stored with WATCH on the head and MULTI/EXEC: all of its new records and the new
head, or nothing (a concurrent writer makes EXEC fail, and the batch is checked again).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import redis

from edge_agent.journal import GENESIS, Record
from edge_agent.rules.calendar import from_us
from server_stub.chain import EMPTY, Head, new_records
from server_stub.errors import Rejection, schema_error

VERDICTS = ("device_fault", "not_device_fault")
STATUS_OF = {"device_fault": "verified", "not_device_fault": "rejected"}
CENTER_REF = re.compile(r"center-([1-9][0-9]{0,14})")
# What marks a journal event the ref index may need (canonical JSON: no spaces), so the
# other records are not parsed at ingest (one substring test a record).
_FAULT_MARK = '"type":"fault_'

_UTC = ZoneInfo("UTC")
READ_CHUNK = 5000
WATCH_RETRIES = 8


def records_key(hall: str) -> str:
    return f"hall:{{{hall}}}:records"


def head_key(hall: str) -> str:
    return f"hall:{{{hall}}}:head"


def faults_key(hall: str) -> str:
    return f"hall:{{{hall}}}:faults"


def refs_key(hall: str) -> str:
    return f"hall:{{{hall}}}:refs"


def cleared_key(hall: str) -> str:
    return f"hall:{{{hall}}}:cleared"


@dataclass(frozen=True, slots=True)
class Stored:
    stored: int
    already: int
    head: Head


class Store:
    """A hall-keyed view of one Redis database (a redis-py client, real or fakeredis)."""

    def __init__(self, client: redis.Redis) -> None:
        # redis-py's annotations mix the sync and asyncio clients; results are typed below.
        self.redis: Any = client

    def head(self, hall: str) -> Head:
        return _head(self.redis.hmget(head_key(hall), ["seq", "hash"]))

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
            head = _head(pipe.hmget(head_key(hall), ["seq", "hash"]))
            first, last = records[0].seq, records[-1].seq
            held: list[bytes] = []
            if first <= head.seq:
                rows: list[bytes] = pipe.lrange(records_key(hall), first - 1,
                                                min(last, head.seq) - 1)
                held = [_hash_of(row) for row in rows]
            fresh = new_records(head, held, records)
            if not fresh:
                pipe.unwatch()
                return Stored(0, len(records), head)
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
            pipe.execute()
            return Stored(len(fresh), len(records) - len(fresh), Head(top.seq, top.hash))

    def records(self, hall: str, after: int = 0, upto: int | None = None,
                chunk: int = READ_CHUNK) -> Iterator[Record]:
        """The stored records after ``after`` in order (to the head as it was when called)."""
        end = self.head(hall).seq if upto is None else upto
        prev = GENESIS if after == 0 else _hash_of(self._row(hall, after))
        seq = after + 1
        while seq <= end:
            rows: list[bytes] = self.redis.lrange(records_key(hall), seq - 1,
                                                  min(end, seq + chunk - 1) - 1)
            for row in rows:
                r = decode(row, seq, prev)
                yield r
                seq, prev = seq + 1, r.hash

    def _row(self, hall: str, seq: int) -> bytes:
        row: bytes | None = self.redis.lindex(records_key(hall), seq - 1)
        if row is None:
            raise KeyError(f"hall {hall}: no record {seq}")
        return row

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
    trusted = source == "it" or not verification
    return {"device": device, "ref": ref, "source": source, "t_us": t_us, "reason": reason,
            "filed_by": filed_by, "status": "verified" if trusted else "unverified",
            "rulings": []}


def encode(r: Record) -> str:
    return f"{r.t_us} {r.kind} {r.hash.hex()} {len(r.event)} {r.event}{r.outcome}"


def decode(row: bytes, seq: int, prev: bytes) -> Record:
    t_us, kind, digest, size, rest = row.decode().split(" ", 4)
    n = int(size)
    return Record(seq, int(t_us), kind, rest[:n], rest[n:], prev, bytes.fromhex(digest))


def _hash_of(row: bytes) -> bytes:
    return bytes.fromhex(row.split(b" ", 3)[2].decode())


def _head(values: Sequence[Any]) -> Head:
    seq, digest = values
    return EMPTY if seq is None else Head(int(seq), bytes.fromhex(digest.decode()))


"""The center's storage in Redis: per hall its journal records, its head and its fault records.

Keys carry the hall in a hash tag, ``hall:{qingpu}:records``, so one hall's keys share a
Redis Cluster slot and a batch can be stored in one transaction on a cluster too:

- ``hall:{H}:records``: a list; element ``seq - 1`` is record ``seq``, stored as
  ``"<t_us> <kind> <hash hex> <len(event)> <event><outcome>"`` (the JSON texts exactly as
  journaled; ``prev`` is the previous element's hash, so it is not stored twice).
- ``hall:{H}:head``: a hash ``seq``, ``hash`` (hex), ``agent``: the last stored record.
- ``hall:{H}:faults``: a list of fault records as JSON; element ``ref - 1`` is ``ref``.
- ``hall:{H}:followups``: the console's bad-rating follow-ups (``server_stub.followup``).
- ``center:{center}:...``: the console's accounts, sessions, login failures and audit log
  (``server_stub.accounts``, ``server_stub.sessions``, ``server_stub.audit``).

A batch is stored with WATCH on the head and MULTI/EXEC: all of its new records and the new
head, or nothing (a concurrent writer makes EXEC fail, and the batch is checked again).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from edge_agent.journal import GENESIS, Record
from server_stub.chain import EMPTY, Head, new_records

READ_CHUNK = 5000
WATCH_RETRIES = 8


def records_key(hall: str) -> str:
    return f"hall:{{{hall}}}:records"


def head_key(hall: str) -> str:
    return f"hall:{{{hall}}}:head"


def faults_key(hall: str) -> str:
    return f"hall:{{{hall}}}:faults"


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

    def rows_at(self, hall: str, seqs: Sequence[int]) -> dict[int, tuple[int, str, str, str]]:
        """Records by seq as ``(t_us, kind, event, outcome)`` texts (not chain-checked: the
        console shows them beside a report that read the checked chain)."""
        pipe: Any
        with self.redis.pipeline(transaction=False) as pipe:
            for seq in seqs:
                pipe.lindex(records_key(hall), seq - 1)
            rows: list[bytes | None] = pipe.execute()
        return {seq: _texts(row) for seq, row in zip(seqs, rows, strict=True) if row is not None}

    def rows_since(self, hall: str, since_us: int, chunk: int = 2000
                   ) -> list[tuple[int, int, str, str, str]]:
        """The newest records whose time is ``since_us`` or later, as ``(seq, t_us, kind,
        event, outcome)`` in order, read backwards from the head (the live overview)."""
        head = self.head(hall).seq
        out: list[tuple[int, int, str, str, str]] = []
        end = head
        while end > 0:
            first = max(1, end - chunk + 1)
            rows: list[bytes] = self.redis.lrange(records_key(hall), first - 1, end - 1)
            for seq in range(end, first - 1, -1):
                t_us, kind, event, outcome = _texts(rows[seq - first])
                if t_us < since_us:
                    return out[::-1]
                out.append((seq, t_us, kind, event, outcome))
            end = first - 1
        return out[::-1]

    def add_fault(self, hall: str, fault: dict[str, Any]) -> int:
        """Keep a fault record; its ref is its place in the hall's list (1, 2, ...)."""
        ref: int = self.redis.rpush(faults_key(hall), json.dumps(fault, ensure_ascii=False))
        return ref

    def faults(self, hall: str, after: int, limit: int) -> list[dict[str, Any]]:
        rows: list[bytes] = self.redis.lrange(faults_key(hall), after, after + limit - 1)
        return [{"ref": after + i + 1, **json.loads(row)} for i, row in enumerate(rows)]

    def ping(self) -> bool:
        return bool(self.redis.ping())


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


def _hash_of(row: bytes) -> bytes:
    return bytes.fromhex(row.split(b" ", 3)[2].decode())


def _head(values: Sequence[Any]) -> Head:
    seq, digest = values
    return EMPTY if seq is None else Head(int(seq), bytes.fromhex(digest.decode()))


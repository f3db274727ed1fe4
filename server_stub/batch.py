"""Parsing an agent's batch (POST /v1/halls/{hall}/batches) into journal records.

Checks the shape only (fields, types, consecutive sequence numbers, the idempotency key);
the hash chain is checked against what the center holds, in :mod:`server_stub.chain`.
Every fault is a :class:`Rejection`: 400 for a body that is not JSON, 422 naming the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from edge_agent.journal import Record
from server_stub.errors import Rejection, schema_error

RECORD_KEYS = frozenset(("seq", "t_us", "kind", "event", "outcome", "prev", "hash"))
_KIND = re.compile(r"[a-z0-9_]{1,32}")
_AGENT = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True, slots=True)
class IngestBatch:
    agent: str
    first_seq: int
    last_seq: int
    head: bytes  # the hash of the batch's last record: the journal's head once it is stored
    records: list[Record]


def parse_batch(body: bytes, idempotency_key: str | None, max_records: int) -> IngestBatch:
    doc = _json_object(body)
    unknown = set(doc) - {"agent", "first_seq", "last_seq", "head", "records"}
    if unknown:
        raise schema_error(sorted(unknown)[0], "unknown field")
    agent = doc.get("agent")
    if not isinstance(agent, str) or not _AGENT.fullmatch(agent):
        raise schema_error("agent", "must be 1-64 letters, digits, '.', '-' or '_'")
    first, last = _int(doc, "first_seq"), _int(doc, "last_seq")
    if first < 1 or last < first:
        raise schema_error("last_seq", f"must be >= first_seq >= 1, got {first}..{last}")
    raw = doc.get("records")
    if not isinstance(raw, list):
        raise schema_error("records", "must be a list")
    if len(raw) != last - first + 1:
        raise schema_error("records", f"holds {len(raw)} records, but first_seq..last_seq "
                                      f"is {last - first + 1}")
    if len(raw) > max_records:
        raise schema_error("records", f"{len(raw)} records in one batch; at most {max_records}")
    records = [_record(r, i, first + i) for i, r in enumerate(raw)]
    head = _hex32(doc.get("head"), "head")
    if head != records[-1].hash:
        raise schema_error("head", f"is not the hash of record {last}, the batch's last")
    expected_key = f"{agent}:{first}-{last}"
    if idempotency_key != expected_key:
        raise Rejection(422, "schema", f"Idempotency-Key: expected {expected_key!r} for this "
                                       f"batch, got {idempotency_key!r}",
                        field="Idempotency-Key")
    return IngestBatch(agent, first, last, head, records)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except UnicodeDecodeError as exc:
        raise Rejection(400, "malformed", f"the body is not UTF-8 ({exc.reason})") from None
    except ValueError as exc:
        raise Rejection(400, "malformed", f"the body is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise Rejection(422, "schema", "the body must be a JSON object", field="body")
    return doc


def _int(doc: dict[str, Any], key: str) -> int:
    value = doc.get(key)
    if value.__class__ is not int:
        raise schema_error(key, f"must be an integer, got {value!r}")
    result: int = value
    return result


def _hex32(value: Any, field: str) -> bytes:
    if value.__class__ is str and len(value) == 64:
        try:
            return bytes.fromhex(value)
        except ValueError:
            pass
    raise schema_error(field, "must be 64 hex digits")


def _record(r: Any, index: int, seq: int) -> Record:
    where = f"records[{index}]"
    if r.__class__ is not dict or r.keys() != RECORD_KEYS:
        if r.__class__ is not dict:
            raise schema_error(where, "must be an object")
        missing = sorted(RECORD_KEYS - r.keys())
        name = missing[0] if missing else sorted(r.keys() - RECORD_KEYS)[0]
        raise schema_error(f"{where}.{name}", "missing" if missing else "unknown field")
    if r["seq"] != seq or r["seq"].__class__ is not int:
        raise schema_error(f"{where}.seq", f"must be {seq} (records are consecutive from "
                                           f"first_seq), got {r['seq']!r}")
    t_us, kind, event, outcome = r["t_us"], r["kind"], r["event"], r["outcome"]
    if t_us.__class__ is not int:
        raise schema_error(f"{where}.t_us", f"must be an integer, got {t_us!r}")
    if kind.__class__ is not str or not _KIND.fullmatch(kind):
        raise schema_error(f"{where}.kind", f"must be 1-32 of a-z, 0-9 and '_', got {kind!r}")
    if event.__class__ is not str:
        raise schema_error(f"{where}.event", "must be a string (the journaled JSON text)")
    if outcome.__class__ is not str:
        raise schema_error(f"{where}.outcome", "must be a string (the journaled JSON text)")
    return Record(seq, t_us, kind, event, outcome, _hex32(r["prev"], f"{where}.prev"),
                  _hex32(r["hash"], f"{where}.hash"))

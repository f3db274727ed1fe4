"""How a batch continues the hash chain the center holds for a hall (pure: no I/O).

Records the center already holds must be identical to it (same hash); the first new record
must follow the stored head (seq head+1, prev = the head's hash); every new record's hash is
recomputed with the journal's own :func:`edge_agent.journal.record_hash`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge_agent.journal import GENESIS, Record, record_hash
from server_stub.errors import Rejection


@dataclass(frozen=True, slots=True)
class Head:
    seq: int
    hash: bytes

    def as_json(self, hall: str) -> dict[str, object]:
        return {"hall": hall, "seq": self.seq, "hash": self.hash.hex()}


EMPTY = Head(0, GENESIS)


def new_records(head: Head, stored: Sequence[bytes], records: Sequence[Record]) -> list[Record]:
    """The records of a batch that the center does not hold yet, checked.

    ``stored`` holds the center's hashes of the batch's records it already has, in order
    (the records first_seq .. min(last_seq, head.seq)).
    """
    first = records[0].seq
    if first > head.seq + 1:
        raise _gap(head, f"the batch starts at record {first}, the center holds up to "
                         f"{head.seq}")
    for held, r in zip(stored, records, strict=False):
        if held != r.hash:
            raise Rejection(422, "chain", f"record {r.seq} differs from the one the center "
                                          f"holds (hash {r.hash.hex()}, held {held.hex()}): "
                                          "the journal was rewritten", seq=r.seq)
    fresh = records[len(stored):]
    if fresh and fresh[0].prev != head.hash:
        raise _gap(head, f"record {fresh[0].seq} does not link to the center's head (its prev "
                         f"is {fresh[0].prev.hex()}, the head is {head.hash.hex()})")
    _verify(fresh, head.hash)
    return list(fresh)


def _verify(records: Sequence[Record], head: bytes) -> None:
    for r in records:
        if r.prev != head:
            raise Rejection(422, "chain", f"record {r.seq}: its link to the previous record "
                                          "does not match", seq=r.seq)
        if record_hash(r.prev, r.seq, r.t_us, r.kind, r.event, r.outcome) != r.hash:
            raise Rejection(422, "chain", f"record {r.seq}: its content does not match its "
                                          "hash (the record was changed)", seq=r.seq)
        head = r.hash


def _gap(head: Head, reason: str) -> Rejection:
    return Rejection(409, "gap", reason, expected_seq=head.seq + 1)

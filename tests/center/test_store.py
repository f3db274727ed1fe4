"""The center's Redis storage, on a real redis-server and on fakeredis (the same tests)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from edge_agent.journal import GENESIS
from server_stub.errors import Rejection
from server_stub.store import Store, faults_key, head_key, records_key
from tests.center.fixtures import chain

HALL = "test"


def held(store: Store, hall: str = HALL) -> list[tuple[int, bytes]]:
    return [(r.seq, r.hash) for r in store.records(hall)]


def test_an_empty_hall_has_head_zero(store: Store) -> None:
    head = store.head(HALL)
    assert (head.seq, head.hash) == (0, GENESIS)
    assert list(store.records(HALL)) == []


def test_records_come_back_exactly_as_sent(store: Store) -> None:
    records = chain(30)
    result = store.append(HALL, "pi", records)
    assert (result.stored, result.already) == (30, 0)
    assert (store.head(HALL).seq, store.head(HALL).hash) == (30, records[-1].hash)
    assert list(store.records(HALL)) == records  # every field, prev included
    assert list(store.records(HALL, after=12, chunk=7)) == records[12:]


def test_a_batch_sent_twice_is_stored_once(store: Store) -> None:
    records = chain(10)
    store.append(HALL, "pi", records)
    again = store.append(HALL, "pi", records)
    assert (again.stored, again.already, again.head.seq) == (0, 10, 10)
    overlapping = store.append(HALL, "pi", chain(15)[5:])  # 6..15: 5 held, 5 new
    assert (overlapping.stored, overlapping.already) == (5, 5)
    assert held(store) == [(r.seq, r.hash) for r in chain(15)]


def test_a_gap_is_refused_and_names_the_expected_record(store: Store) -> None:
    store.append(HALL, "pi", chain(5))
    with pytest.raises(Rejection) as caught:
        store.append(HALL, "pi", chain(10)[6:])  # 7..10: record 6 is missing
    assert (caught.value.status, caught.value.error) == (409, "gap")
    assert caught.value.extra == {"expected_seq": 6}
    assert store.head(HALL).seq == 5


def test_a_batch_that_does_not_link_to_the_head_is_a_gap(store: Store) -> None:
    store.append(HALL, "pi", chain(5))
    fork = chain(3, start=6, prev=bytes(range(32)))
    with pytest.raises(Rejection) as caught:
        store.append(HALL, "pi", fork)
    assert (caught.value.status, caught.value.extra) == (409, {"expected_seq": 6})


def test_a_rewritten_record_is_refused_and_nothing_is_stored(store: Store) -> None:
    records = chain(8)
    store.append(HALL, "pi", records[:5])
    rewritten = chain(8)
    rewritten[2] = replace(rewritten[2], hash=bytes(32))
    with pytest.raises(Rejection) as caught:
        store.append(HALL, "pi", rewritten)
    assert (caught.value.status, caught.value.error, caught.value.extra) == (422, "chain",
                                                                             {"seq": 3})
    assert "the journal was rewritten" in caught.value.reason
    assert held(store) == [(r.seq, r.hash) for r in records[:5]]


@pytest.mark.parametrize("change", ["content", "link"])
def test_a_broken_chain_stores_none_of_the_batch(store: Store, change: str) -> None:
    records = chain(10)
    bad = replace(records[6], event=records[6].event.replace("满意", "不满意")) \
        if change == "content" else replace(records[6], prev=records[4].hash)
    with pytest.raises(Rejection) as caught:
        store.append(HALL, "pi", [*records[:6], bad, *records[7:]])
    assert (caught.value.status, caught.value.extra) == (422, {"seq": 7})
    assert ("does not match its hash" if change == "content" else "link") in caught.value.reason
    assert store.head(HALL).seq == 0 and held(store) == []  # records 1..6 were not kept


def test_the_same_batch_from_many_threads_at_once_is_stored_once(store: Store) -> None:
    records = chain(50)
    results = []

    def send(part: int) -> None:
        results.append(store.append(HALL, "pi", records[: 10 + part * 5]))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert held(store) == [(r.seq, r.hash) for r in records[:45]]
    assert sum(r.stored for r in results) == 45


def test_halls_are_kept_apart_and_each_halls_keys_share_one_cluster_slot(store: Store) -> None:
    store.append("a", "pi-a", chain(3))
    store.append("b", "pi-b", chain(4))
    assert (store.head("a").seq, store.head("b").seq) == (3, 4)
    for hall in ("a", "qingpu", "hall-with-a-long-name_1"):
        assert len({key_slot(k(hall).encode()) for k in (records_key, head_key, faults_key)}) == 1


def test_fault_records_get_increasing_refs(store: Store) -> None:
    refs = [store.add_fault(HALL, {"device": f"A0{i}-pad", "active": True}) for i in range(3)]
    assert refs == [1, 2, 3]
    assert [f["ref"] for f in store.faults(HALL, 0, 100)] == [1, 2, 3]
    assert store.faults(HALL, 1, 1) == [{"ref": 2, "device": "A01-pad", "active": True,
                                         "kind": "report", "source": "staff"}]
    assert store.faults(HALL, 3, 100) == [] and store.faults("other", 0, 100) == []


_halls = itertools.count()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(1, 12)), min_size=1, max_size=30))
def test_any_sequence_of_batches_stores_each_record_exactly_once(
        store: Store, sends: list[tuple[int, int]]) -> None:
    """Batches (first, length) in any order, repeated or overlapping: the center ends with
    the chain's prefix it could link, each record once; refused batches change nothing."""
    hall = f"h{next(_halls)}"
    records = chain(51)
    expect = 0
    for first, length in sends:
        part = records[first - 1: first - 1 + length]
        try:
            store.append(hall, "pi", part)
        except Rejection as exc:
            assert exc.status == 409 and first > expect + 1
            continue
        expect = max(expect, part[-1].seq)
    assert held(store, hall) == [(r.seq, r.hash) for r in records[:expect]]

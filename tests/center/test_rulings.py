"""The IT department's rulings on repair records (RULES.md §3 "Device faults: reported, then
verified"; 004 §17(二)1): the credential, the sources of fault records, the ref index built
at ingest, the one ordered list the agent pulls, and every refusal storing nothing. Each test
runs on a real redis-server and on fakeredis."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from edge_agent.journal import GENESIS, Record, canonical, record_hash
from server_stub.store import Store
from tests.center.fixtures import (
    IT_TOKEN,
    OTHER_IT_TOKEN,
    OTHER_TOKEN,
    TOKEN,
    VIEWER_TOKEN,
    auth,
    batch,
)

FAULTS = "/v1/halls/test/faults"
RULINGS = "/v1/halls/test/rulings"
T0 = 1_772_413_200_000_000  # 2026-03-02 09:00 +08:00
KEYPAD_REF = "P-A01-20260302091500"


def journal(events: list[tuple[str, dict[str, Any]]]) -> list[Record]:
    """Journal records (kind, event) chained from the genesis, as the agent writes them."""
    out, prev = [], GENESIS
    for seq, (kind, event) in enumerate(events, 1):
        t_us = T0 + seq * 60_000_000
        text, outcome = canonical(event), canonical({})
        digest = record_hash(prev, seq, t_us, kind, text, outcome)
        out.append(Record(seq, t_us, kind, text, outcome, prev, digest))
        prev = digest
    return out


def fault_event(kind: str, device: str = "P-A01", record_kind: str = "event", **extra: Any
                ) -> tuple[str, dict[str, Any]]:
    """A journal record of a fault event: kind "event" as the live agent writes it, or the
    event's type as `edge_agent record` does."""
    return record_kind, {"t": "x", "type": kind, "counter": "A01", "device": device, **extra}


def send(api: TestClient, records: list[Record]) -> None:
    body, headers = batch(records)
    answer = api.post("/v1/halls/test/batches", content=body, headers=headers)
    assert answer.status_code == 200, answer.text


def file_fault(api: TestClient, token: str, active: bool = True, device: str = "P-A01",
               hall: str = "test") -> int:
    fault = {"device": device, "active": active, "t": "2026-03-02T10:05:00+08:00",
             "reason": "屏幕不亮"}
    answer = api.post(f"/v1/halls/{hall}/faults", json=fault, headers=auth(token))
    assert answer.status_code == 201, answer.text
    ref: int = answer.json()["ref"]
    return ref


def rule(api: TestClient, ref: str, verdict: str = "device_fault", device: str = "P-A01",
         token: str = IT_TOKEN, **extra: Any) -> Any:
    return api.post(RULINGS, json={"device": device, "ref": ref, "verdict": verdict, **extra},
                    headers=auth(token))


def pulled(api: TestClient, after: int = 0) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = api.get(f"{FAULTS}?after={after}",
                                            headers=auth()).json()["faults"]
    return entries


def test_a_fault_record_s_source_is_the_credential_that_filed_it(api: TestClient) -> None:
    assert file_fault(api, IT_TOKEN) == 1
    assert file_fault(api, TOKEN) == 2
    assert file_fault(api, VIEWER_TOKEN, active=False) == 3
    assert [(e["ref"], e["kind"], e["source"], e["filed_by"]) for e in pulled(api)] == [
        (1, "report", "it", "it"), (2, "report", "staff", "hall"),
        (3, "cleared", "staff", "viewer")]
    assert file_fault(api, OTHER_IT_TOKEN, hall="other") == 1
    refused = api.post(FAULTS, json={"device": "P-A01", "active": True, "reason": "",
                                     "t": "2026-03-02T10:05:00+08:00"},
                       headers=auth(OTHER_IT_TOKEN))
    assert refused.status_code == 403 and "belongs to hall 'other'" in refused.json()["reason"]


def test_rulings_join_reports_and_clears_in_one_ordered_list(api: TestClient) -> None:
    report = file_fault(api, TOKEN)
    answer = rule(api, f"center-{report}", note="主板损坏, 已换新")
    assert (answer.status_code, answer.json()) == (201, {"ref": 2})
    file_fault(api, TOKEN, active=False)
    entries = pulled(api)
    assert [(e["ref"], e["kind"]) for e in entries] == [(1, "report"), (2, "ruling"),
                                                        (3, "cleared")]
    ruling = entries[1]
    assert (ruling["device"], ruling["fault_ref"], ruling["verdict"], ruling["note"],
            ruling["filed_by"]) == ("P-A01", "center-1", "device_fault", "主板损坏, 已换新", "it")
    assert isinstance(ruling["t_us"], int)
    assert [e["ref"] for e in pulled(api, after=1)] == [2, 3]


def test_the_journal_s_repair_records_are_indexed_at_ingest_and_can_be_ruled(
        api: TestClient, store: Store) -> None:
    send(api, journal([
        fault_event("device_down"),
        fault_event("fault_report", ref=KEYPAD_REF, source="staff", reason="staff keypad"),
        fault_event("fault_report", device="P-A02", ref="P-A02-20260302093000",
                    source="pad", reason="selftest failed: sensor",
                    record_kind="fault_report"),
        fault_event("fault_report", ref="center-9", source="staff", reason="center:9: x"),
        fault_event("fault_report", reason="no ref: a journal written before version 2"),
    ]))
    assert rule(api, KEYPAD_REF, "not_device_fault").status_code == 201
    assert rule(api, "P-A02-20260302093000", device="P-A02").status_code == 201
    # A ref the agent journaled from the center's list is the center's record: the hall
    # has no center-9, so it is not a record to rule on.
    assert rule(api, "center-9").status_code == 404
    records = {(r["device"], r["ref"]): r for r in store.fault_records("test")}
    assert set(records) == {("P-A01", KEYPAD_REF), ("P-A02", "P-A02-20260302093000")}
    keypad = records[("P-A01", KEYPAD_REF)]
    assert (keypad["source"], keypad["status"], keypad["open"], keypad["filed_by"]) == (
        "staff", "rejected", True, "journal #2")
    assert records[("P-A02", "P-A02-20260302093000")]["source"] == "pad"
    assert records[("P-A02", "P-A02-20260302093000")]["status"] == "verified"


def test_a_record_s_status_follows_its_source_and_the_latest_ruling(
        api: TestClient, store: Store) -> None:
    by_it = file_fault(api, IT_TOKEN)
    by_staff = file_fault(api, TOKEN, device="P-A02")
    status = {r["ref"]: r["status"] for r in store.fault_records("test")}
    assert status == {f"center-{by_it}": "verified", f"center-{by_staff}": "unverified"}
    rule(api, f"center-{by_staff}", "device_fault", device="P-A02")
    rule(api, f"center-{by_staff}", "not_device_fault", device="P-A02", note="人为关机")
    rule(api, f"center-{by_it}", "not_device_fault")
    file_fault(api, TOKEN, active=False)  # clears P-A01's records
    records = {r["ref"]: r for r in store.fault_records("test")}
    staff = records[f"center-{by_staff}"]
    assert staff["status"] == "rejected" and staff["open"]
    assert [(r["verdict"], r["note"]) for r in staff["rulings"]] == [
        ("device_fault", ""), ("not_device_fault", "人为关机")]
    assert records[f"center-{by_it}"]["status"] == "rejected"
    assert not records[f"center-{by_it}"]["open"]
    served = api.get("/v1/halls/test/repairs", headers=auth(IT_TOKEN)).json()["records"]
    assert [r["ref"] for r in served] == [r["ref"] for r in store.fault_records("test")]
    # A hall with [rules] fault_verification = false trusts every report from the start.
    trusting = {r["ref"]: r["status"] for r in store.fault_records("test", verification=False)}
    assert trusting[f"center-{by_it}"] == "rejected"  # a ruling still replaces it
    file_fault(api, TOKEN, device="P-A03")
    assert [r["status"] for r in store.fault_records("test", verification=False)
            if r["device"] == "P-A03"] == ["verified"]


@pytest.mark.parametrize(("body", "token", "status", "field"), [
    ({"device": "P-A01", "ref": "center-7", "verdict": "device_fault"}, IT_TOKEN, 404, "ref"),
    ({"device": "P-A09", "ref": "center-1", "verdict": "device_fault"}, IT_TOKEN, 404, "ref"),
    ({"device": "P-A01", "ref": "center-2", "verdict": "device_fault"}, IT_TOKEN, 404, "ref"),
    ({"device": "P-A01", "ref": "P-A01-1", "verdict": "device_fault"}, IT_TOKEN, 404, "ref"),
    ({"device": "P-A01", "ref": "center-1", "verdict": "broken"}, IT_TOKEN, 422, "verdict"),
    ({"device": "P-A01", "ref": "center-1"}, IT_TOKEN, 422, "verdict"),
    ({"device": "P A01", "ref": "center-1", "verdict": "device_fault"}, IT_TOKEN, 422,
     "device"),
    ({"device": "P-A01", "ref": "", "verdict": "device_fault"}, IT_TOKEN, 422, "ref"),
    ({"device": "P-A01", "ref": "center-1", "verdict": "device_fault", "note": 3}, IT_TOKEN,
     422, "note"),
    ({"device": "P-A01", "ref": "center-1", "verdict": "device_fault", "by": "x"}, IT_TOKEN,
     422, "by"),
    # another hall's record, named on this hall's path with this hall's credential
    ({"device": "P-B01", "ref": "center-1", "verdict": "device_fault"}, IT_TOKEN, 403, "ref"),
    # credentials that may not rule here
    ({"device": "P-A01", "ref": "center-1", "verdict": "device_fault"}, TOKEN, 403, None),
    ({"device": "P-A01", "ref": "center-1", "verdict": "device_fault"}, VIEWER_TOKEN, 403,
     None),
    ({"device": "P-A01", "ref": "center-1", "verdict": "device_fault"}, OTHER_IT_TOKEN, 403,
     None),
    ({"device": "P-A01", "ref": "center-1", "verdict": "device_fault"}, OTHER_TOKEN, 403,
     None),
    ({"device": "P-A01", "ref": "center-1", "verdict": "device_fault"}, "nobody", 401, None),
])
def test_a_refused_ruling_names_its_field_and_stores_nothing(
        api: TestClient, store: Store, body: dict[str, Any], token: str, status: int,
        field: str | None) -> None:
    file_fault(api, TOKEN)  # test: center-1 is P-A01's report
    file_fault(api, TOKEN, active=False)  # center-2 is a clear, not a report
    file_fault(api, OTHER_TOKEN, device="P-B01", hall="other")  # other: center-1 is P-B01's
    before = pulled(api), store.fault_records("test"), store.fault_records("other")
    answer = api.post(RULINGS, json=body, headers=auth(token))
    assert answer.status_code == status, answer.text
    assert answer.json().get("field") == field
    if field is not None:
        assert answer.json()["reason"].startswith(f"{field}: ")
    assert (pulled(api), store.fault_records("test"), store.fault_records("other")) == before


def test_a_ruling_that_is_not_json_is_400(api: TestClient) -> None:
    answer = api.post(RULINGS, content=b"{verdict", headers=auth(IT_TOKEN))
    assert answer.status_code == 400 and answer.json()["error"] == "malformed"
    assert pulled(api) == []


def test_store_add_ruling_refuses_as_the_api_does(store: Store) -> None:
    from server_stub.errors import Rejection

    with pytest.raises(Rejection) as caught:
        store.add_ruling("test", "P-A01", "center-1", "device_fault", "", "it")
    assert (caught.value.status, caught.value.extra["field"]) == (404, "ref")
    ref = store.add_fault("test", {"kind": "report", "device": "P-A01", "active": True,
                                   "t": "", "t_us": T0, "reason": "", "source": "staff",
                                   "filed_by": "hall"})
    with pytest.raises(Rejection) as caught:
        store.add_ruling("test", "P-A01", f"center-{ref}", "maybe", "", "it")
    assert (caught.value.status, caught.value.extra["field"]) == (422, "verdict")
    assert store.add_ruling("test", "P-A01", f"center-{ref}", "device_fault", "ok", "it",
                            t_us=T0 + 1) == 2
    assert store.fault_records("test")[0]["status"] == "verified"


def test_entries_stored_before_rulings_existed_read_as_staff_reports(store: Store) -> None:
    store.redis.rpush("hall:{test}:faults", '{"device": "P-A01", "active": true, "t": "", '
                                            '"t_us": 1, "reason": "old", "filed_by": "hall"}')
    [entry] = store.faults("test", 0, 10)
    assert (entry["kind"], entry["source"], entry["ref"]) == ("report", "staff", 1)

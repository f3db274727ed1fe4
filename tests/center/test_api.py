"""The center's HTTP API: ingest, refusals with a precise reason, fault records, on both
a real redis-server and fakeredis."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from edge_agent.journal import GENESIS
from tests.center.fixtures import (
    AGENT,
    OTHER_TOKEN,
    TOKEN,
    VIEWER_TOKEN,
    auth,
    batch,
    batch_doc,
    chain,
)

BATCHES = "/v1/halls/test/batches"
HEAD = "/v1/halls/test/head"


def head(api: TestClient) -> dict[str, Any]:
    doc: dict[str, Any] = api.get(HEAD, headers=auth()).json()
    return doc


def test_head_then_batches_then_the_same_batch_again(api: TestClient) -> None:
    assert head(api) == {"hall": "test", "seq": 0, "hash": GENESIS.hex()}
    records = chain(20)
    body, headers = batch(records[:12])
    answer = api.post(BATCHES, content=body, headers=headers)
    assert answer.status_code == 200
    assert answer.json() == {"stored": 12, "already": 0, "seq": 12,
                             "hash": records[11].hash.hex()}
    again = api.post(BATCHES, content=body, headers=headers)
    assert again.json() == {"stored": 0, "already": 12, "seq": 12,
                            "hash": records[11].hash.hex()}
    body, headers = batch(records[8:])
    assert api.post(BATCHES, content=body, headers=headers).json()["stored"] == 8
    assert head(api) == {"hall": "test", "seq": 20, "hash": records[-1].hash.hex()}


def _refused(api: TestClient, body: bytes, headers: dict[str, str], status: int,
             error: str) -> dict[str, Any]:
    """Posts a bad batch; checks the status and error, that nothing was stored, and that
    the refusal was counted."""
    before = head(api)
    counted = api.get("/v1/stats", headers=auth(VIEWER_TOKEN)).json()["rejections"]
    answer = api.post(BATCHES, content=body, headers=headers)
    assert answer.status_code == status, answer.text
    doc: dict[str, Any] = answer.json()
    assert doc["error"] == error and doc["reason"]
    assert head(api) == before
    after = api.get("/v1/stats", headers=auth(VIEWER_TOKEN)).json()["rejections"]
    assert after.get(f"{status} {error}", 0) == counted.get(f"{status} {error}", 0) + 1
    return doc


def test_malformed_json_is_400(api: TestClient) -> None:
    body, headers = batch(chain(3))
    doc = _refused(api, body[:-5], headers, 400, "malformed")
    assert doc["reason"].startswith("the body is not JSON")
    doc = _refused(api, b"\xff\xfe{}", headers, 400, "malformed")
    assert "not UTF-8" in doc["reason"] or "not JSON" in doc["reason"]


def _mutated(change: str) -> dict[str, Any]:
    doc = batch_doc(chain(3))
    record = doc["records"][1]
    if change == "no agent":
        del doc["agent"]
    elif change == "seq skips":
        record["seq"] = 4
    elif change == "hash not hex":
        record["hash"] = "zz" * 32
    elif change == "event not text":
        record["event"] = {"type": "rating"}
    elif change == "missing outcome":
        del record["outcome"]
    elif change == "extra field":
        record["note"] = 1
    elif change == "count":
        doc["last_seq"] = 4
    elif change == "head":
        doc["head"] = "00" * 32
    elif change == "kind":
        record["kind"] = "Rating!"
    elif change == "not an object":
        return {"list": True}
    return doc


@pytest.mark.parametrize(("change", "field"), [
    ("no agent", "agent"), ("seq skips", "records[1].seq"), ("hash not hex", "records[1].hash"),
    ("event not text", "records[1].event"), ("missing outcome", "records[1].outcome"),
    ("extra field", "records[1].note"), ("count", "records"), ("head", "head"),
    ("kind", "records[1].kind"), ("not an object", "list")])
def test_wrong_schema_is_422_naming_the_field(api: TestClient, change: str, field: str) -> None:
    _, headers = batch(chain(3))
    doc = _refused(api, json.dumps(_mutated(change)).encode(), headers, 422, "schema")
    assert doc["field"] == field
    assert doc["reason"].startswith(f"{field}: ")


def test_a_wrong_idempotency_key_is_422(api: TestClient) -> None:
    body, headers = batch(chain(3))
    doc = _refused(api, body, {**headers, "Idempotency-Key": f"{AGENT}:1-2"}, 422, "schema")
    assert doc["field"] == "Idempotency-Key" and f"expected '{AGENT}:1-3'" in doc["reason"]
    del headers["Idempotency-Key"]
    _refused(api, body, headers, 422, "schema")


def test_an_oversized_body_is_413(api: TestClient) -> None:
    body, headers = batch(chain(600))  # the test center takes 200,000 bytes at most
    assert len(body) > 200_000
    doc = _refused(api, body, headers, 413, "too_large")
    assert doc["limit"] == 200_000


def test_a_wrong_or_missing_token_is_401(api: TestClient) -> None:
    body, headers = batch(chain(3))
    doc = _refused(api, body, {**headers, **auth("not-a-token")}, 401, "unauthorized")
    assert doc["reason"] == "unknown token"
    del headers["Authorization"]
    doc = _refused(api, body, headers, 401, "unauthorized")
    assert "Bearer" in doc["reason"]
    assert api.get(HEAD).headers["WWW-Authenticate"] == "Bearer"


def test_another_halls_token_is_403_and_the_viewer_writes_no_batches(api: TestClient) -> None:
    body, headers = batch(chain(3))
    doc = _refused(api, body, {**headers, **auth(OTHER_TOKEN)}, 403, "forbidden")
    assert doc["reason"] == "this token belongs to hall 'other'; it may not act on hall 'test'"
    doc = _refused(api, body, {**headers, **auth(VIEWER_TOKEN)}, 403, "forbidden")
    assert "viewer" in doc["reason"]
    assert api.get(HEAD, headers=auth(OTHER_TOKEN)).status_code == 403
    assert api.get("/v1/halls/nowhere/head", headers=auth(VIEWER_TOKEN)).status_code == 404


def test_a_gap_is_409_with_the_expected_record(api: TestClient) -> None:
    records = chain(6)
    api.post(BATCHES, content=batch(records[:2])[0], headers=batch(records[:2])[1])
    doc = _refused(api, *batch(records[3:]), 409, "gap")
    assert doc["expected_seq"] == 3


def test_a_broken_chain_or_a_rewritten_record_is_422(api: TestClient) -> None:
    records = chain(6)
    api.post(BATCHES, content=batch(records[:3])[0], headers=batch(records[:3])[1])
    doc = batch_doc(records)
    doc["records"][4]["outcome"] = doc["records"][4]["outcome"].replace("true", "false")
    _, headers = batch(records)
    refused = _refused(api, json.dumps(doc).encode(), headers, 422, "chain")
    assert refused["seq"] == 5 and "does not match its hash" in refused["reason"]
    doc = batch_doc(records)
    doc["records"][1]["hash"] = "ab" * 32
    refused = _refused(api, json.dumps(doc).encode(), headers, 422, "chain")
    assert refused["seq"] == 2 and "rewritten" in refused["reason"]


def test_fault_records_filed_by_the_hall_or_the_viewer_are_pulled_in_order(
        api: TestClient) -> None:
    faults = "/v1/halls/test/faults"
    first = {"device": "A01-pad", "active": True, "t": "2026-03-02T10:05:00+08:00",
             "reason": "屏幕不亮 (phoned in)"}
    assert api.post(faults, json=first, headers=auth()).json() == {"ref": 1}
    cleared = {**first, "active": False, "t": "2026-03-02T11:00:00+08:00", "reason": "fixed"}
    answer = api.post(faults, json=cleared, headers=auth(VIEWER_TOKEN))
    assert (answer.status_code, answer.json()) == (201, {"ref": 2})
    pulled = api.get(f"{faults}?after=0", headers=auth()).json()["faults"]
    assert [(f["ref"], f["active"], f["filed_by"]) for f in pulled] == [
        (1, True, "hall"), (2, False, "viewer")]
    assert pulled[0]["t_us"] == 1_772_417_100_000_000 and pulled[0]["reason"] == first["reason"]
    assert [f["ref"] for f in api.get(f"{faults}?after=1", headers=auth()).json()["faults"]
            ] == [2]
    assert api.post(faults, json=first, headers=auth(OTHER_TOKEN)).status_code == 403
    assert api.get(f"{faults}?after=-1", headers=auth()).json()["field"] == "after"


@pytest.mark.parametrize(("change", "field"), [
    ({"active": "yes"}, "active"), ({"t": "2026-03-02T10:05:00"}, "t"), ({"t": "soon"}, "t"),
    ({"device": "A01 pad"}, "device"), ({"reason": 5}, "reason"), ({"extra": 1}, "extra"),
    # the source comes from the credential: a hall's token cannot file an IT record
    ({"source": "it"}, "source")])
def test_a_bad_fault_record_is_422_naming_the_field(api: TestClient, change: dict[str, Any],
                                                    field: str) -> None:
    fault = {"device": "A01-pad", "active": True, "t": "2026-03-02T10:05:00+08:00",
             "reason": "x", **change}
    answer = api.post("/v1/halls/test/faults", json=fault, headers=auth())
    assert answer.status_code == 422 and answer.json()["field"] == field
    assert api.get("/v1/halls/test/faults", headers=auth()).json()["faults"] == []


def test_health_and_stats(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"ok": True, "redis": "ok"}
    assert api.get("/v1/stats", headers=auth(TOKEN)).status_code == 403

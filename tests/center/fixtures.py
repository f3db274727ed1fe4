"""A center configured for tests: halls "test" and "other", a viewer, their tokens; journal
records to send (synthetic chains, and a recorded day of the rules); the API on a store."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from edge_agent.config import parse_config
from edge_agent.hall_state import record_timeline
from edge_agent.journal import GENESIS, Journal, Record, canonical, open_for_reading, read_records
from edge_agent.outbox import batch_body
from edge_agent.timeline import EventParser
from server_stub.app import create_app
from server_stub.config import CenterSettings, load_center_config
from server_stub.store import Store
from tests.helpers import ev, login, press

HALL, OTHER = "test", "other"
TOKEN = "agent-token-test-0001"
OTHER_TOKEN = "agent-token-other-0002"
VIEWER_TOKEN = "viewer-token-0003"
IT_TOKEN = "it-token-test-0004"  # hall "test"'s IT department (信息技术科)
OTHER_IT_TOKEN = "it-token-other-0005"
AGENT = "pi-test"
HALL_TOML = '[hall]\nid = "test"\n'


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def write_center(folder: Path, server: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.toml").write_text(HALL_TOML)
    (folder / "other.toml").write_text('[hall]\nid = "other"\n')
    digest = {t: hashlib.sha256(t.encode()).hexdigest() for t in (
        TOKEN, OTHER_TOKEN, VIEWER_TOKEN, IT_TOKEN, OTHER_IT_TOKEN)}
    path = folder / "center.toml"
    path.write_text(f"{server}\n[viewer]\ntoken_sha256 = \"{digest[VIEWER_TOKEN]}\"\n"
                    f"[halls.test]\ntoken_sha256 = \"{digest[TOKEN]}\"\nconfig = \"test.toml\"\n"
                    f"it_token_sha256 = \"{digest[IT_TOKEN]}\"\nregion_code = \"310118\"\n"
                    f"[halls.other]\ntoken_sha256 = \"{digest[OTHER_TOKEN]}\"\n"
                    f"it_token_sha256 = \"{digest[OTHER_IT_TOKEN]}\"\n"
                    "config = \"other.toml\"\nregion_code = \"310117\"\n")
    return path


@pytest.fixture
def settings(tmp_path: Path) -> CenterSettings:
    # A small body limit, so the oversize test needs no 16 MiB body.
    return load_center_config(write_center(tmp_path / "center",
                                           "[server]\nmax_body_bytes = 200000\n"))


@pytest.fixture
def api(store: Store, settings: CenterSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store)) as client:
        yield client


# --- records ------------------------------------------------------------------------------


def chain(n: int, start: int = 1, prev: bytes = GENESIS) -> list[Record]:
    """``n`` chained records from seq ``start`` (rating-shaped, with Chinese text)."""
    from edge_agent.journal import record_hash

    out = []
    for seq in range(start, start + n):
        t_us = 1_772_413_200_000_000 + seq * 1_000_000
        event = canonical({"t": f"seq {seq}", "type": "rating", "counter": "A01",
                           "level": "satisfied", "reason": "满意 · ok"})
        outcome = canonical({"decision": {"accepted": True, "line": seq}})
        digest = record_hash(prev, seq, t_us, "rating", event, outcome)
        out.append(Record(seq, t_us, "rating", event, outcome, prev, digest))
        prev = digest
    return out


def rows(records: list[Record]) -> list[tuple[Any, ...]]:
    return [(r.seq, r.t_us, r.kind, r.event, r.outcome, r.prev, r.hash) for r in records]


def batch(records: list[Record], agent: str = AGENT) -> tuple[bytes, dict[str, str]]:
    """A batch body as the outbox sends it, and its headers (token of hall "test")."""
    key = f"{agent}:{records[0].seq}-{records[-1].seq}"
    return batch_body(agent, rows(records)), {**auth(), "Idempotency-Key": key,
                                              "Content-Type": "application/json"}


def batch_doc(records: list[Record]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(batch(records)[0])
    return doc


# A day at two counters with deductions to show (tests/test_cli_journal.py's day, and more).
DAY_EVENTS = [login("09:00:00"), ev("09:10:00", "ticket_called", ticket="T1"),
              ev("09:12:00", "service_done"), press("09:12:05"), press("09:12:30"),
              ev("09:20:00", "ticket_called", ticket="T2"),
              ev("09:30:00", "ticket_called", ticket="T3"), ev("09:31:00", "service_done"),
              press("09:31:20", "unsatisfied"), ev("10:00:00", "device_down", device="A01-pad"),
              ev("10:40:00", "device_up", device="A01-pad"), login("11:00:00", "S2", "A02"),
              ev("11:05:00", "ticket_called", "A02", ticket="T9"),
              ev("11:09:00", "service_done", "A02"), press("11:09:10", counter="A02")]


def record_day(path: Path, events: list[dict[str, Any]] | None = None) -> list[Record]:
    """Journal a day of events the way the agent does; the journal's records."""
    config = parse_config(HALL_TOML)
    parser = EventParser(config.scale)
    with Journal(path) as journal:
        journal.set_meta("hall", HALL)
        record_timeline((parser.parse(e, n) for n, e in enumerate(events or DAY_EVENTS, 1)),
                        config, journal)
    db = open_for_reading(path)
    try:
        return list(read_records(db))
    finally:
        db.close()

"""tools/simhall/console_client.py: the simulated IT department rules through the console's
own forms (login, CSRF token, the ruling form) against a live center on a real redis-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server_stub.accounts import Accounts
from server_stub.config import CenterSettings
from server_stub.faults import parse_fault
from tests.center.fixtures import HALL
from tests.console.fixtures import PASSWORD, TEST_KDF
from tests.console.live import Center
from tests.redis_server import RedisServer
from tools.simhall.console_client import ConsoleError, ConsolePerson


@pytest.fixture
def live(redis_server: RedisServer, settings: CenterSettings, tmp_path: Path
         ) -> Iterator[Center]:
    center = Center(settings, redis_server.url)
    Accounts(center.client, TEST_KDF).add("it", "it", [HALL], None, PASSWORD, {HALL})
    center.store.add_fault(HALL, parse_fault(
        b'{"device": "A01-pad", "active": true, "t": "2026-03-02T10:05:00+08:00", '
        b'"reason": "phoned in"}', "hall test's agent", "staff"))
    center.start()
    yield center
    center.stop()


def test_the_it_department_rules_through_the_console(live: Center) -> None:
    person = ConsolePerson("127.0.0.1", live.port)
    with pytest.raises(ConsoleError, match="401"):
        person.login("it", "not the password")
    person.login("it", PASSWORD)
    person.rule(HALL, "A01-pad", "center-1", "device_fault", "电源损坏")
    (record,) = live.store.fault_records(HALL)
    assert record["status"] == "verified"
    assert [(r["filed_by"], r["note"]) for r in record["rulings"]] == [("it", "电源损坏")]
    with pytest.raises(ConsoleError, match="404"):
        person.rule(HALL, "A01-pad", "center-7", "device_fault")
    person.logout()
    with pytest.raises(ConsoleError, match="no form"):
        person.rule(HALL, "A01-pad", "center-1", "not_device_fault")  # sent to /login
    assert len(live.store.fault_records(HALL)[0]["rulings"]) == 1

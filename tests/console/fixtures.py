"""A center with its console for tests: halls "test" and "other" (tests/center/fixtures.py),
a recorded day in hall "test" (with a bad rating and a staff id that is HTML), and one
account per role; a client that logs in through the form as a browser does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server_stub.accounts import Accounts, Kdf
from server_stub.app import create_app
from server_stub.config import CenterSettings
from server_stub.store import Store
from tests.center.fixtures import DAY_EVENTS, HALL, record_day
from tests.helpers import ev, login, press

# Cheap scrypt for tests (the default cost is checked in test_accounts.py).
TEST_KDF = Kdf(1 << 10, 8, 1)
PASSWORD = "correct horse battery staple"
EVIL = "<img src=x onerror=alert(1)>"
# name -> (role, halls, staff)
PEOPLE = {
    "boss": ("manager", ["test"], None),
    "otherboss": ("manager", ["other"], None),
    "tech": ("it", ["test"], None),
    "s1": ("staff", ["test"], "S1"),
    "s2": ("staff", ["test"], "S2"),
    "prov": ("viewer", [], None),
}
# The day of tests/center/fixtures.py, and a counter whose staff id is an HTML tag.
EVENTS = [*DAY_EVENTS, login("14:00:00", EVIL, "A03"),
          ev("14:05:00", "ticket_called", "A03", ticket="T20"),
          ev("14:09:00", "service_done", "A03"), press("14:09:10", "unsatisfied",
                                                       counter="A03")]


def csrf_of(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', text)
    assert found, "the page has no CSRF field"
    return found[1]


class Browser:
    """A TestClient that logs in through the form, keeping cookies as a browser does."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    def login(self, name: str, password: str = PASSWORD) -> int:
        form = self.client.get("/login")
        r = self.client.post("/login", data={"username": name, "password": password,
                                             "csrf": csrf_of(form.text)},
                             follow_redirects=False)
        if r.status_code == 303:
            self.csrf = csrf_of(self.client.get("/").text)  # every page's logout form
        return r.status_code

    def get(self, path: str, **kw: object) -> Any:
        return self.client.get(path, follow_redirects=False, **kw)  # type: ignore[arg-type]

    def post(self, path: str, data: dict[str, str], **kw: object) -> Any:
        return self.client.post(path, data=data, follow_redirects=False,
                                **kw)  # type: ignore[arg-type]

    def page_csrf(self, path: str) -> str:
        self.csrf = csrf_of(self.client.get(path).text)
        return self.csrf


@pytest.fixture
def people(store: Store, settings: CenterSettings) -> Accounts:
    accounts = Accounts(store.redis, TEST_KDF)
    for name, (role, halls, staff) in PEOPLE.items():
        accounts.add(name, role, halls, staff, PASSWORD, set(settings.halls))
    return accounts


@pytest.fixture
def console(store: Store, settings: CenterSettings, people: Accounts, tmp_path: Path
            ) -> Starlette:
    store.append(HALL, "pi-test", record_day(tmp_path / "day.sqlite", EVENTS))
    return create_app(settings, store, TEST_KDF)


def browser(app: Starlette, name: str | None = None, https: bool = False) -> Browser:
    """A browser of its own (its own cookies), logged in as ``name`` when given."""
    b = Browser(TestClient(app, base_url=f"{'https' if https else 'http'}://127.0.0.1"))
    if name is not None:
        assert b.login(name) == 303
    return b

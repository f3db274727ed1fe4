"""tools/demo's console accounts: made with the user command on the demo center's Redis,
and the printed passwords log in through the console's form."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from server_stub.app import create_app
from server_stub.config import load_center_config
from server_stub.store import Store
from tests.center.fixtures import write_center
from tests.console.fixtures import csrf_of
from tests.redis_server import RedisServer
from tools.demo import console_accounts


def test_the_demo_makes_a_manager_and_an_it_account_that_log_in(
        tmp_path: Path, redis_server: RedisServer) -> None:
    center_toml = write_center(tmp_path / "center")
    made = console_accounts(center_toml, redis_server.url, "test")
    assert [(name, role) for name, role, _ in made] == [("manager", "manager"), ("it", "it")]
    assert len({password for _, _, password in made}) == 2
    with redis_server.client() as client:
        app = create_app(load_center_config(center_toml), Store(client))
        for name, role, password in made:
            c = TestClient(app)
            form = c.get("/login")
            r = c.post("/login", data={"username": name, "password": password,
                                       "csrf": csrf_of(form.text)}, follow_redirects=False)
            assert r.status_code == 303, name
            page = c.get("/").text
            assert 'data-hall="test"' in page and 'data-hall="other"' not in page
            assert ("/halls/test/repairs" in page) and (
                ("/halls/test/followups" in page) == (role == "manager"))

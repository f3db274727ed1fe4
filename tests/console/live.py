"""The console's live rig for browser tests: the center's app on uvicorn in a thread (a free
loopback port, a real redis-server, an optional clock), Playwright on Debian's chromium, and
the steps people take (log in through the form, log out, keep a screenshot)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import uvicorn

from server_stub.app import create_app
from server_stub.config import CenterSettings
from server_stub.store import Store
from tests.console.fixtures import PASSWORD, TEST_KDF
from tools.harness.ports import free_port

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


class Center:
    """The center's app on uvicorn in a thread, on a free loopback port."""

    def __init__(self, settings: CenterSettings, redis_url: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = redis.Redis.from_url(redis_url)
        self.store = Store(self.client)
        self.port = free_port()
        app = create_app(settings, self.store, TEST_KDF, clock)
        config = uvicorn.Config(app, host="127.0.0.1",
                                port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        end = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < end, "center did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.client.close()


@pytest.fixture
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (tools/bootstrap)", pytrace=False)
    from playwright.sync_api import sync_playwright  # a dev dependency (pyproject.toml)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def log_in(browser: Any, center: Center, name: str, password: str = PASSWORD) -> Any:
    """A new browser context (its own cookies) logged in through the form."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{center.url}/")
    assert page.url.endswith("/login")  # not logged in: sent to the form
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("form.login button")
    return page


def log_out(page: Any, center: Center, path: str = "/") -> None:
    page.click("nav.top form button")
    assert page.url.endswith("/login")
    page.goto(f"{center.url}{path}")
    assert page.url.endswith("/login")  # the session is gone


def status_of(page: Any, path: str, center: Center) -> int:
    response = page.goto(f"{center.url}{path}")
    return int(response.status)



"""The center's real HTTP server (uvicorn) in a thread of the test process, on a loopback
port that stays the same across stop() and start(), storing into a real redis-server (a URL)
or a Redis Cluster (StorageSettings)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from server_stub.app import create_app
from server_stub.config import CenterSettings
from server_stub.storage import StorageSettings, connect
from server_stub.store import Store
from tools.harness.ports import free_port


class LiveCenter:
    def __init__(self, settings: CenterSettings, redis_url: str | StorageSettings,
                 port: int | None = None,
                 ssl: tuple[Path, Path] | None = None) -> None:
        self.settings = settings
        self.ssl = ssl  # (certificate, key): serve HTTPS
        self.redis_url = redis_url
        self.port = port or free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._client: Any = None
        self.store: Store | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        storage = self.redis_url if isinstance(self.redis_url, StorageSettings) \
            else StorageSettings(url=self.redis_url)
        self._client = connect(storage)
        self.store = Store(self._client)
        config = uvicorn.Config(create_app(self.settings, self.store), host="127.0.0.1",
                                port=self.port, log_level="warning", lifespan="off",
                                ssl_certfile=self.ssl and str(self.ssl[0]),
                                ssl_keyfile=self.ssl and str(self.ssl[1]))
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="center", daemon=True)
        self._thread.start()
        end = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > end:
                pytest.fail(f"the center did not start on port {self.port}", pytrace=False)
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
        if self._client is not None:
            self._client.close()
        self._server = self._thread = self._client = None


@contextmanager
def live_center(settings: CenterSettings, redis_url: str | StorageSettings) -> Iterator[LiveCenter]:
    center = LiveCenter(settings, redis_url)
    center.start()
    try:
        yield center
    finally:
        center.stop()

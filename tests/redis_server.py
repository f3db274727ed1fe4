"""A real redis-server for tests (Debian's /usr/bin/redis-server) on a free loopback port,
AOF persistence in a tmp folder, no RDB snapshots; plus fakeredis for the same tests.

Fixtures (import them into a conftest): `redis_server` (a started RedisServer), `fake_redis`
(a fakeredis client), and `store`, parametrized to run a test once on each ("real", "fake",
"cluster": the last needs `local_cluster` from tests/redis_cluster.py in the conftest too).
The store's real server and cluster are one each for the session, emptied before each test
(a server per test cost a start and a stop each time, for no more isolation than FLUSHALL);
a test that restarts or kills its server takes `redis_server`, its own.
`running_redis(folder)` gives other scopes. The server is always stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fakeredis
import pytest
import redis

from server_stub.storage import flush_all
from server_stub.store import Store

HOST = "127.0.0.1"
DEBIAN_REDIS = "/usr/bin/redis-server"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def redis_binary() -> str:
    """The server's path; fails the test (never skips it) when it is not installed."""
    found = DEBIAN_REDIS if os.access(DEBIAN_REDIS, os.X_OK) else shutil.which("redis-server")
    if found is None:
        pytest.fail(f"redis-server is not installed (no {DEBIAN_REDIS}): install Debian's "
                    "redis-server package (tools/bootstrap)", pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """One redis-server. The port and the data folder stay the same across restart(), so
    what was written before a clean stop (SIGTERM flushes the AOF) is there after it."""

    host = HOST

    def __init__(self, folder: Path) -> None:
        self.binary = redis_binary()
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / "redis.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host=HOST, port=self.port)

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", HOST, "--save", "",
                "--appendonly", "yes", "--dir", str(self.folder), "--logfile",
                str(self.log_path), "--daemonize", "no"]
        for attempt in range(3):
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            if self._wait_ready():
                return
            self.stop(kill=True)
            if attempt < 2 and "Address already in use" in self.log():
                self.port = free_port()  # taken between free_port() and the bind
                argv[2] = str(self.port)
                continue
            break
        pytest.fail(f"redis-server did not start on {HOST}:{self.port}:\n{self.log()}",
                    pytrace=False)

    def _wait_ready(self) -> bool:
        end = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < end:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                with self.client() as c:
                    if c.ping():
                        return True
            except redis.RedisError:
                time.sleep(0.02)
        return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def running_redis(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with running_redis(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def fake_redis() -> Iterator[redis.Redis]:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    yield client
    client.close()


@pytest.fixture(scope="session")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(params=["real", "fake", "cluster"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The center's store on a real redis-server, then the same test on fakeredis, then on
    a real three-master Redis Cluster (the server and the cluster one each for the session,
    emptied for each test)."""
    archive = tmp_path / "archive"
    if request.param == "fake":
        client: redis.Redis = fakeredis.FakeRedis(server=fakeredis.FakeServer())
        yield Store(client, archive)
        client.close()
        return
    if request.param == "cluster":
        cluster = request.getfixturevalue("local_cluster")
        with cluster.client() as cluster_client:
            flush_all(cluster_client)
            yield Store(cluster_client, archive)
        return
    server: RedisServer = request.getfixturevalue("shared_redis")
    with server.client() as client:
        client.flushall()
        yield Store(client, archive)

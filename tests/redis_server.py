"""Fixtures for the center's storage: `redis_server` (a started real redis-server from
tools/harness/redis_server.py: Debian's, a free loopback port, AOF persistence in the test's
tmp folder), `fake_redis` (a fakeredis client), and `store`, parametrized to run a test once
on each ("real", "fake", "cluster": the last needs `local_cluster` from tests/redis_cluster.py
in the conftest too). Import them into a conftest. The server is always stopped at the end;
one that cannot start fails the test (never skips it).
The store's real server and cluster are one each for the session (`shared_redis`), emptied
before each test (a server per test cost a start and a stop each time, for no more isolation
than FLUSHALL); a test that restarts or kills its server takes `redis_server`, its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest
import redis

from server_stub.storage import flush_all
from server_stub.store import Store
from tools.harness.binaries import HarnessError
from tools.harness.redis_server import RedisServer, redis_binary, running_redis

__all__ = ["RedisServer", "fake_redis", "redis_binary", "redis_server", "running_redis",
           "shared_redis", "store"]


def started_redis(folder: Path) -> Iterator[RedisServer]:
    """A started server for a fixture to yield; one that cannot start fails the test."""
    try:
        server = RedisServer(folder)
        server.start()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    yield from started_redis(tmp_path / "redis")


@pytest.fixture
def fake_redis() -> Iterator[redis.Redis]:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    yield client
    client.close()


@pytest.fixture(scope="session")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    yield from started_redis(tmp_path_factory.mktemp("redis"))


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

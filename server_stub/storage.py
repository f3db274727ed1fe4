"""The connection to Redis: one server (``redis://...``) or a Redis Cluster (seed nodes).

Both give a client with the same commands (redis-py's ``Redis`` and ``RedisCluster``; a
WATCH / MULTI / EXEC transaction on a cluster needs redis-py >= 6.1 and keys of one slot,
see :mod:`server_stub.keys`). The store and the report code never know which one they have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

DEFAULT_URL = "redis://127.0.0.1:6379/0"
CLUSTER_RETRIES = 12  # with a backoff of at most 1 s: rides out a fail-over of a few seconds


@dataclass(frozen=True, slots=True)
class StorageSettings:
    url: str | None = None  # one Redis server
    cluster: tuple[tuple[str, int], ...] = ()  # seed nodes of a Redis Cluster

    def describe(self) -> str:
        if self.cluster:
            return "Redis Cluster via " + ", ".join(f"{h}:{p}" for h, p in self.cluster)
        return self.url or DEFAULT_URL


def chosen(url: str | None, configured: StorageSettings | None) -> StorageSettings:
    """The storage a command uses: ``--redis URL`` when given, else ``[storage]`` of
    center.toml, else the local Redis. Raises ValueError for a URL that is not redis://."""
    if url:
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"--redis must be a redis:// URL, got {url!r}")
        return StorageSettings(url=url)
    return configured or StorageSettings()


def connect(settings: StorageSettings) -> Any:
    """A client for the settings (not connected yet: the first command connects).

    Raises ValueError for a URL redis-py does not accept."""
    if settings.cluster:
        nodes = [ClusterNode(host, port)  # type: ignore[no-untyped-call]
                 for host, port in settings.cluster]
        # A fail-over takes the cluster a few seconds: retry commands meanwhile, and
        # refresh the slot map at once when a node is gone.
        retry = Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries=CLUSTER_RETRIES)
        # reinitialize_steps=1: after a connection error re-read the slot map at once. With
        # redis-py 6.4's default (5) a transaction's connection error is stored as if it
        # were a MOVED redirect and every later command fails with AttributeError
        # ('ConnectionError' object has no attribute 'host', redis-py issue #3815).
        return RedisCluster(startup_nodes=nodes, retry=retry, reinitialize_steps=1,
                            socket_timeout=10, socket_connect_timeout=2)
    return redis.Redis.from_url(settings.url or DEFAULT_URL)


def flush_all(client: Any) -> None:
    """Empty every database the client reaches (tests and benchmarks only)."""
    if isinstance(client, RedisCluster):
        client.flushall(target_nodes=RedisCluster.PRIMARIES)
    else:
        client.flushall()


def used_memory(client: Any) -> int:
    """Bytes of memory Redis uses for data (``used_memory``), summed over a cluster's masters."""
    if isinstance(client, RedisCluster):
        cluster: Any = client  # redis-py types info() for the sync and asyncio clients
        infos: dict[str, dict[str, Any]] = cluster.info("memory",
                                                        target_nodes=RedisCluster.PRIMARIES)
        return sum(int(i["used_memory"]) for i in infos.values())
    return int(client.info("memory")["used_memory"])

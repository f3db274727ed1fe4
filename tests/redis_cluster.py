"""A real local Redis Cluster for tests (tools/harness/redis_cluster.py): three masters on loopback,
started once per test session and emptied by each test that uses it.

`local_cluster` (session scope) is what the `store` fixture's "cluster" parameter uses
(tests/redis_server.py); `running_cluster(folder, masters, replicas)` for a test of its own
(the fail-over test needs replicas, and kills a node). A cluster that does not start fails
the test (never skips it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tools.harness import redis_cluster
from tools.harness.binaries import HarnessError
from tools.harness.redis_cluster import LocalCluster
from tools.harness.redis_server import redis_binary

__all__ = ["LocalCluster", "local_cluster_fixture", "running_cluster"]


@contextmanager
def running_cluster(folder: Path, masters: int = 3, replicas: int = 0
                    ) -> Iterator[LocalCluster]:
    try:
        redis_binary()
        with redis_cluster.running_cluster(folder, masters, replicas) as cluster:
            yield cluster
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session", name="local_cluster")
def local_cluster_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One three-master cluster for the whole test run."""
    with running_cluster(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster

"""A local Redis Cluster on loopback for tests and benchmarks: redis-server nodes with
``--cluster-enabled yes``, joined by ``redis-cli --cluster create``, AOF on, stopped at the end.

Ports: a node's cluster bus port is its port + 10000, so both must be free and the port
below 55536; each node's pair is picked free at random in 20000-45000 and bound-checked.
"""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster

from server_stub.storage import StorageSettings, connect
from tools.harness.binaries import HarnessError
from tools.harness.ports import HOST
from tools.harness.redis_server import redis_argv


class ClusterError(HarnessError):
    """The local cluster could not be started."""


START_TIMEOUT_S = 30.0
NODE_TIMEOUT_MS = 3000  # a master unreachable this long is failed over to its replica


def _free_pair(taken: set[int]) -> int:
    """A port p < 55536 with p and p + 10000 (the cluster bus) both free on loopback."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        if port in taken or port + 10000 in taken:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind((HOST, port))
                b.bind((HOST, port + 10000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class LocalCluster:
    def __init__(self, folder: Path, masters: int = 3, replicas: int = 0) -> None:
        self.folder = folder
        self.masters, self.replicas = masters, replicas
        taken: set[int] = set()
        self.ports: list[int] = []
        for _ in range(masters * (1 + replicas)):
            port = _free_pair(taken)
            taken |= {port, port + 10000}
            self.ports.append(port)
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def seeds(self) -> tuple[tuple[str, int], ...]:
        return tuple((HOST, p) for p in self.ports[:3])

    @property
    def settings(self) -> StorageSettings:
        return StorageSettings(cluster=self.seeds)

    def client(self) -> Any:
        return connect(self.settings)

    def start(self) -> None:
        for port in self.ports:
            self._start_node(port)
        for port in self.ports:
            self._wait_ping(port)
        cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
        create = [cli, "--cluster", "create", *(f"{HOST}:{p}" for p in self.ports),
                  "--cluster-replicas", str(self.replicas), "--cluster-yes"]
        done = subprocess.run(create, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise ClusterError(f"redis-cli --cluster create failed:\n{done.stdout}\n"
                               f"{done.stderr}")
        self.wait_ok()
        if self.replicas:
            self._wait_replicas_synced()

    def _wait_replicas_synced(self) -> None:
        """Until every replica finished its first sync: one that has not cannot be promoted
        (a master killed before that is never failed over)."""
        end = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < end:
            synced = 0
            for port in self.ports:
                with redis.Redis(host=HOST, port=port) as c:
                    info = c.info("replication")
                if info.get("role") == "slave" and info.get("master_link_status") == "up" \
                        and not info.get("master_sync_in_progress"):
                    synced += 1
            if synced == self.masters * self.replicas:
                return
            time.sleep(0.1)
        raise ClusterError("the replicas did not finish their first sync")

    def _start_node(self, port: int) -> None:
        folder = self.folder / str(port)
        folder.mkdir(parents=True, exist_ok=True)
        argv = [*redis_argv(port, folder, aof=True, log=folder / "redis.log"),
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
        self.procs[port] = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL,
                                            stderr=subprocess.STDOUT)

    def _wait_ping(self, port: int) -> None:
        end = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < end:
            if self.procs[port].poll() is not None:
                break
            try:
                with redis.Redis(host=HOST, port=port) as c:
                    if c.ping():
                        return
            except redis.RedisError:
                time.sleep(0.02)
        log = self.folder / str(port) / "redis.log"
        raise ClusterError(f"cluster node {port} did not start:\n"
                           f"{log.read_text() if log.exists() else ''}")

    def wait_ok(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until every live node says the cluster is ok and a client sees every slot."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(self._node_ok(p) for p in self.live_ports()):
                return
            time.sleep(0.05)
        raise ClusterError("the local Redis Cluster did not reach cluster_state:ok")

    def _node_ok(self, port: int) -> bool:
        try:
            with redis.Redis(host=HOST, port=port) as c:
                info = c.cluster("info")
                state = info.get("cluster_state") if isinstance(info, dict) else None
                return state == "ok" and int(info.get("cluster_slots_ok", 0)) == 16384
        except redis.RedisError:
            return False

    def live_ports(self) -> list[int]:
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def master_of(self, key: str) -> int:
        """The port of the master that holds ``key``'s slot now."""
        with RedisCluster(startup_nodes=[ClusterNode(HOST, p)  # type: ignore[no-untyped-call]
                                         for p in self.live_ports()]) as c:
            node = c.get_node_from_key(key)
            return int(node.port)

    def wait_promoted(self, key: str, old: int, timeout: float = 60.0) -> int:
        """Until a master other than ``old`` serves ``key``'s slot (a replica took over) and
        the cluster is ok again; the new master's port."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                port = self.master_of(key)
            except redis.RedisError:
                port = old
            if port != old:
                self.wait_ok(max(1.0, end - time.monotonic()))
                return port
            time.sleep(0.1)
        raise ClusterError(f"no replica took over {key}'s slot from {old} in {timeout:.0f} s")

    def kill(self, port: int) -> None:
        proc = self.procs[port]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def running_cluster(folder: Path, masters: int = 3, replicas: int = 0
                    ) -> Iterator[LocalCluster]:
    cluster = LocalCluster(folder, masters, replicas)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()

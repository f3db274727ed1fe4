"""A real redis-server (Debian's, installed by tools/bootstrap) on a free loopback port, its
data in a folder of its own: what the center's tests, the benchmarks and the simulated hall
store into. `redis_argv()` is the one command line every redis-server here starts with
(the cluster's nodes add their cluster options to it).
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tools.harness.binaries import HarnessError, find_binary
from tools.harness.ports import HOST, free_port

DEBIAN_REDIS = "/usr/bin/redis-server"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def redis_binary() -> str:
    return find_binary("redis-server", DEBIAN_REDIS)


def redis_argv(port: int, folder: Path, aof: bool, log: Path | None = None) -> list[str]:
    """Loopback only, no RDB snapshots, the append-only file on or off, in the foreground;
    with `log`, redis-server writes its log there (else to its standard output)."""
    argv = [redis_binary(), "--port", str(port), "--bind", HOST, "--save", "",
            "--appendonly", "yes" if aof else "no", "--dir", str(folder),
            "--daemonize", "no"]
    if log is not None:
        argv += ["--logfile", str(log)]
    return argv


class RedisServer:
    """One redis-server. The port and the data folder stay the same across restart(), so
    what was written before a clean stop (SIGTERM flushes the AOF) is there after it."""

    host = HOST

    def __init__(self, folder: Path, aof: bool = True) -> None:
        self.binary = redis_binary()
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log_path = folder / "redis.log"
        self.aof = aof
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host=HOST, port=self.port)

    def start(self) -> None:
        for attempt in range(3):
            argv = redis_argv(self.port, self.folder, self.aof, self.log_path)
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            if self._wait_ready():
                return
            self.stop(kill=True)
            if attempt < 2 and "Address already in use" in self.log():
                self.port = free_port()  # taken between free_port() and the bind
                continue
            break
        raise HarnessError(f"redis-server did not start on {HOST}:{self.port}:\n{self.log()}")

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
def running_redis(folder: Path, aof: bool = True) -> Iterator[RedisServer]:
    server = RedisServer(folder, aof)
    try:
        server.start()
        yield server
    finally:
        server.stop()

"""The processes a simulated hall runs against: the hall's mosquitto (with the broker files
the agent generates from the hall file: a user and ACL per pad), the edge agent on the
simulator's clock, and the center (a redis-server and `python -m server_stub serve`).
Each is a child process with its log in the work folder; stop() ends it with SIGTERM
(SIGKILL if it does not go), and each is started with PR_SET_PDEATHSIG, so no process
outlives the simulator even when the simulator itself is killed.
"""

from __future__ import annotations

import ctypes
import http.client
import signal
import subprocess
import sys
import time
from pathlib import Path

from edge_agent.config import HallConfig
from edge_agent.service.broker_files import CONF_NAME, write_broker_files
from tools.harness.binaries import HarnessError
from tools.harness.mosquitto import local_lines, mosquitto_binary
from tools.harness.ports import free_port, listening
from tools.harness.redis_server import redis_argv

__all__ = ["Child", "ServiceError", "agent", "center", "free_port", "hook_healthy", "http_ok",
           "listening", "mosquitto", "redis_server"]

STOP_TIMEOUT_S = 10.0
AGENT = "edge agent"
BROKER = "mosquitto"
REDIS = "redis-server"
CENTER = "center"
PR_SET_PDEATHSIG = 1


class ServiceError(RuntimeError):
    """A service did not start; the message says which and where its log is."""


class Child:
    """One child process, its output in `log`."""

    def __init__(self, name: str, argv: list[str], log: Path, cwd: Path | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=out, cwd=self.cwd, preexec_fn=_die_with_parent)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL, as a power cut or `kill -9` would; reaped at once."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def wait_until(self, ready: object, timeout_s: float, what: str) -> None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if not self.running:
                raise ServiceError(f"{self.name} exited before {what}; see {self.log}")
            if callable(ready) and ready():
                return
            time.sleep(0.05)
        raise ServiceError(f"{self.name}: no {what} within {timeout_s:g} s; see {self.log}")


def _libc_prctl() -> object | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None  # not Linux: stop() and the finally blocks still end every child


_PRCTL = _libc_prctl()  # looked up once here: the child between fork and exec only calls it


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the simulator (the thread that started the
    child) dies."""
    if callable(_PRCTL):
        _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def mosquitto(config: HallConfig, folder: Path) -> Child:
    """The hall's broker, configured by the agent's broker-files (users, ACL, listener)."""
    try:
        broker = mosquitto_binary()
    except HarnessError as exc:
        raise ServiceError(str(exc)) from None
    write_broker_files(config, folder)
    conf = folder / "sim.conf"
    conf.write_text((folder / CONF_NAME).read_text() + "\n".join(local_lines()) + "\n")
    return Child(BROKER, [broker, "-c", str(conf)], folder / "mosquitto.log")


def agent(config_path: Path, clock_spec: str, log: Path) -> Child:
    argv = [sys.executable, "-m", "edge_agent", "run", "--config", str(config_path),
            "--clock", clock_spec]
    return Child(AGENT, argv, log, cwd=Path(__file__).resolve().parents[2])


def hook_healthy(host: str, port: int) -> bool:
    return http_ok(host, port, "/v1/health")


def redis_server(folder: Path, port: int) -> Child:
    """A redis-server for one run: loopback only, no persistence (its folder is wiped with
    the work folder anyway)."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        argv = redis_argv(port, folder, aof=False)
    except HarnessError as exc:
        raise ServiceError(str(exc)) from None
    return Child(REDIS, argv, folder / "redis.log")


def center(config: Path, listen: str, redis_url: str, log: Path) -> Child:
    argv = [sys.executable, "-m", "server_stub", "serve", "--config", str(config),
            "--listen", listen, "--redis", redis_url, "--log-level", "warning"]
    return Child(CENTER, argv, log, cwd=Path(__file__).resolve().parents[2])


def http_ok(host: str, port: int, path: str) -> bool:
    conn = http.client.HTTPConnection(host, port, timeout=0.5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()

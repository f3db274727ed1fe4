"""A real mosquitto (Debian's broker, installed by tools/bootstrap) on a free loopback port,
persistence in a folder of its own: what the MQTT tests, the benchmarks and the simulated
hall talk to. `running_broker(folder, ...)` starts one and always stops it at the end.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.harness.binaries import HarnessError, find_binary
from tools.harness.ports import HOST, free_port, listening

DEBIAN_MOSQUITTO = "/usr/sbin/mosquitto"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


def mosquitto_binary() -> str:
    return find_binary("mosquitto", DEBIAN_MOSQUITTO)


def local_lines() -> list[str]:
    """Config lines every broker started here needs, whatever else its config says."""
    return [
        # Run as root, mosquitto would switch to the `mosquitto` user, who cannot read or
        # write a tmp folder; as any other user this line has no effect.
        f"user {pwd.getpwuid(os.geteuid()).pw_name}",
        # Without it mosquitto leaves Nagle on: ~40 ms stalls a hop on small QoS 1 frames.
        "set_tcp_nodelay true",
        "log_dest stderr",
        "connection_messages true",
    ]


def password_file(path: Path, users: dict[str, str]) -> Path:
    """A mosquitto password file for `users` (name -> password), made by mosquitto_passwd."""
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    path.write_text("")
    for user, password in users.items():
        subprocess.run([tool, "-b", str(path), user, password], check=True,
                       capture_output=True)
    return path


class Broker:
    """One mosquitto. `host`/`port` stay the same across restart(), as does the persistence
    folder, so persistent sessions, queued QoS 1 messages and retained messages survive."""

    host = HOST

    def __init__(self, folder: Path, port: int | None = None,
                 password_file: Path | None = None, acl_file: Path | None = None) -> None:
        self.binary = mosquitto_binary()
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        (folder / "data").mkdir(exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.log_path = folder / "mosquitto.log"
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.password_file = password_file
        self.acl_file = acl_file
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _write_config(self) -> None:
        lines = [
            f"listener {self.port} {HOST}",
            "persistence true",
            f"persistence_location {self.folder / 'data'}/",
            "persistence_file mosquitto.db",
            *local_lines(),
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "log_timestamp_format %H:%M:%S",
        ]
        if self.password_file is not None:
            lines += ["allow_anonymous false", f"password_file {self.password_file}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl_file is not None:
            lines.append(f"acl_file {self.acl_file}")
        self.config.write_text("\n".join(lines) + "\n")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        """Starts the broker and returns once its port accepts connections."""
        if self.running:
            return
        for attempt in range(3):
            self._write_config()
            with self.log_path.open("ab") as log:
                self.proc = subprocess.Popen([self.binary, "-c", str(self.config)],
                                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            if self._wait_listening():
                self.starts += 1
                return
            self._kill()
            # Someone else took the free port between free_port() and the broker's bind.
            if self._fixed_port or self.starts or attempt == 2:
                break
            self.port = free_port()
        raise HarnessError(f"mosquitto did not start on {HOST}:{self.port}:\n{self.log()}")

    def _wait_listening(self) -> bool:
        end = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < end:
            if not self.running:
                return False
            if listening(HOST, self.port):
                return True
            time.sleep(0.02)
        return False

    def stop(self, kill: bool = False) -> None:
        """SIGTERM (mosquitto saves its persistence file and closes every connection), or
        with `kill` a SIGKILL, a crash; SIGKILL anyway if it does not exit in time."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.proc.send_signal(signal.SIGCONT)  # a paused broker must run to exit
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._kill()
        self.proc = None

    def _kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None

    def pause(self) -> None:
        """SIGSTOP: a hung broker. The kernel still completes TCP handshakes on its port, but
        nothing answers until resume()."""
        assert self.proc is not None and self.running
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None and self.running
        self.proc.send_signal(signal.SIGCONT)

    def restart(self, kill: bool = False) -> None:
        """Stop and start again: the same port, the same persistence folder."""
        self.stop(kill)
        self.start()


@contextmanager
def running_broker(folder: Path, port: int | None = None, password_file: Path | None = None,
                   acl_file: Path | None = None) -> Iterator[Broker]:
    b = Broker(folder, port, password_file, acl_file)
    try:
        b.start()
        yield b
    finally:
        b.stop()

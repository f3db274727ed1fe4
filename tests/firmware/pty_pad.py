"""A pad on the MicroPython unix port behind a pty, and the agent's end of that pty."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path

from edge_agent.wire import Decoder, DeviceKey, Encoder, Message, Result, SeqGuard, wire
from tests.firmware import upy_env

KEY = bytes(range(32))
DEVICE = DeviceKey("A01-pad", KEY)


def pad_config(address: int = 3, keys: int = 2, link: str = "usb") -> dict[str, object]:
    return {"device": "A01-pad", "counter": "A01", "hall": "qingpu", "address": address,
            "keys": keys, "key": KEY.hex(), "link": link, "board": "pico"}


class PtyPad:
    """Starts, presses keys on, and kills one simulated pad."""

    def __init__(self, mpy_dir: Path, root: Path, slave_path: str) -> None:
        self.mpy_dir = mpy_dir
        self.root = root
        self.control = root / "keys"
        self.slave_path = slave_path
        self.proc: subprocess.Popen[str] | None = None

    def argv(self) -> list[str]:
        return [upy_env.MICROPYTHON, "-X", f"heapsize={upy_env.HEAPSIZE}", "-m", "unix_board",
                self.slave_path, str(self.root / "flash"), str(self.control)]

    def start(self) -> None:
        self.control.write_text("0")
        self.proc = subprocess.Popen(
            self.argv(),
            cwd=self.mpy_dir, env=upy_env.env(self.root, MICROPYPATH=str(self.mpy_dir)),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    def hold(self, mask: int) -> None:
        tmp = self.control.with_suffix(".tmp")
        tmp.write_text(str(mask))
        tmp.replace(self.control)

    def press(self, key: int) -> None:
        self.hold(1 << key)
        time.sleep(0.1)
        self.hold(0)

    def kill(self) -> None:
        """Power cut: no chance to flush anything."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(5)

    def stop(self) -> str:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.hold(0)
            self.control.write_text("stop")
            try:
                out, _ = self.proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, _ = self.proc.communicate()
            return out
        return self.proc.stdout.read() if self.proc.stdout else ""


class Agent:
    """The agent's end of the pty: decodes what the pad sends, acks on request."""

    def __init__(self, master: int, devices: dict[int, DeviceKey]) -> None:
        self.master = master
        self.decoder = Decoder(devices.get, SeqGuard())
        self.encoder = Encoder(boot=1)
        self.devices = devices

    def read(self, timeout: float) -> list[Result]:
        out: list[Result] = []
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                out += self.decoder.feed(os.read(self.master, 4096))
        return out

    def wait_for(self, predicate: object, timeout: float = 5.0) -> Message:
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], left)
            if not ready:
                continue
            for got in self.decoder.feed(os.read(self.master, 4096)):
                if isinstance(got, Message) and callable(predicate) and predicate(got):
                    return got
        raise AssertionError("the pad sent no such frame in time")

    def ack(self, msg: Message) -> None:
        dest = self.devices[msg.address]
        os.write(self.master, wire(self.encoder.ack(dest, msg.address, msg.boot, msg.seq)))

    def send(self, raw: bytes) -> None:
        os.write(self.master, wire(raw))


def prepare_flash(root: Path, cfg: dict[str, object]) -> None:
    flash = root / "flash"
    flash.mkdir(parents=True, exist_ok=True)
    (flash / "config.json").write_text(json.dumps(cfg))

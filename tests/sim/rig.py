"""The agent's end of a simulated pad's serial port, for the tests: pyserial on the pty's
slave path (as the agent opens it), the agent's codec, and a hand on the simulated time."""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import serial  # type: ignore[import-untyped]

from edge_agent.wire import Decoder, DeviceKey, Encoder, Message, Result, SeqGuard, wire
from tools.simhall.devices import SimPad

HALL = "qingpu"


def key_of(address: int) -> bytes:
    return bytes([address]) * 32


def pad_config(device: str = "A01-pad", address: int = 3, keys: int = 2,
               link: str = "usb") -> dict[str, Any]:
    return {"device": device, "counter": device.split("-")[0], "hall": HALL,
            "address": address, "keys": keys, "key": key_of(address).hex(), "link": link,
            "board": "pico"}


class SerialAgent:
    """Reads what the pads wrote (it is in the pty already: the simulator writes
    synchronously), decodes it as the agent does, and writes acks and commands."""

    def __init__(self, path: Path, devices: dict[int, str]) -> None:
        self.port = serial.Serial(str(path), timeout=0)
        self.keys = {a: DeviceKey(d, key_of(a)) for a, d in devices.items()}
        self.decoder = Decoder(self.keys.get, SeqGuard())
        self.encoder = Encoder(boot=1)

    def close(self) -> None:
        self.port.close()

    def until(self, predicate: Callable[[Message], bool], timeout: float = 5.0
              ) -> tuple[Message, list[Result]]:
        """The first message that satisfies `predicate`, and everything decoded before it.
        Bytes on a pty keep their order, so what came before it is all there is."""
        seen: list[Result] = []
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            if not select.select([self.port.fileno()], [], [], left)[0]:
                break
            for got in self.decoder.feed(self.port.read(self.port.in_waiting or 1)):
                if isinstance(got, Message) and predicate(got):
                    return got, seen
                seen.append(got)
        raise AssertionError(f"no such message in {timeout} s; got {seen}")

    def next_results(self, timeout: float = 5.0) -> list[Result]:
        """What the next bytes to arrive decode to (a frame, or its rejection)."""
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            if not select.select([self.port.fileno()], [], [], left)[0]:
                break
            got = self.decoder.feed(self.port.read(self.port.in_waiting or 1))
            if got:
                return got
        raise AssertionError(f"nothing decoded in {timeout} s")

    def ack(self, msg: Message) -> bytes:
        raw = self.encoder.ack(self.keys[msg.address], msg.address, msg.boot, msg.seq)
        self.send(raw)
        return raw

    def send(self, raw: bytes) -> None:
        self.port.write(wire(raw))
        self.port.flush()


def delivered(fd: int, timeout: float = 5.0) -> None:
    """Wait until what the agent wrote is readable at the simulator's end of the pty."""
    if not select.select([fd], [], [], timeout)[0]:
        raise AssertionError(f"nothing reached the simulator's end in {timeout} s")


class Hand:
    """Simulated time for a few pads, moved by the test."""

    def __init__(self, *pads: SimPad, t_ms: int = 1_000) -> None:
        self.pads = pads
        self.t_ms = t_ms

    def run(self, ms: int, step_ms: int = 50) -> None:
        end = self.t_ms + ms
        while self.t_ms < end:
            self.t_ms = min(end, self.t_ms + step_ms)
            for pad in self.pads:
                pad.advance(self.t_ms)

"""Firmware benchmarks on the MicroPython unix port: heap of the pad loop, press-to-wire time,
and an RS-485 poll cycle of 32 pads against the time its bytes take at 115200 baud.

Run: .venv/bin/python -m tools.bench_firmware
"""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
import time
from pathlib import Path

from edge_agent.wire import Decoder, DeviceKey, Encoder, Message, SeqGuard, wire
from tests.firmware import upy_env
from tools.harness.pty_pair import PtyPair

BAUD = 115200
BITS_PER_BYTE = 10  # start + 8 data + stop
PADS = 32
CYCLES = 20


def wire_seconds(n_bytes: int) -> float:
    return n_bytes * BITS_PER_BYTE / BAUD


def heap_and_latency(mpy: Path, scratch: Path) -> dict[str, str]:
    proc = upy_env.run_micropython(mpy, "bench_pad", scratch)
    if proc.returncode != 0:
        raise SystemExit(f"bench_pad failed: {proc.stdout}{proc.stderr}")
    figures: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        name, _, value = line.partition(" ")
        figures[name] = value
    return figures


def poll_cycle(mpy: Path, scratch: Path) -> tuple[float, int, float]:
    """(seconds per cycle measured on the pty, bytes per cycle, worst poll-to-reply seconds)."""
    line = PtyPair.open()
    master, path = line.master, line.path
    proc = subprocess.Popen(
        [upy_env.MICROPYTHON, "-X", "heapsize=2m", "-m", "bus_board", path, str(scratch),
         str(PADS)],
        cwd=mpy, env=upy_env.env(scratch, MICROPYPATH=str(mpy)), stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        devices = {a: DeviceKey(f"pad{a}", bytes([a]) * 32) for a in range(1, PADS + 1)}
        decoder = Decoder(devices.get, SeqGuard())
        encoder = Encoder(boot=1)
        total_bytes = 0
        worst = 0.0
        started = 0.0
        for cycle in range(CYCLES + 1):
            if cycle == 1:  # the first cycle also acks each pad's boot backlog: not timed
                started = time.perf_counter()
                total_bytes = 0
            for address, dest in devices.items():
                poll = wire(encoder.poll(dest, address))
                t0 = time.perf_counter()
                os.write(master, poll)
                reply = _read_frame(master, decoder)
                worst = max(worst, time.perf_counter() - t0) if cycle else worst
                total_bytes += len(poll) + reply[1]
                msg = reply[0]
                if msg.kind.is_event:
                    ack = wire(encoder.ack(dest, address, msg.boot, msg.seq))
                    os.write(master, ack)
                    total_bytes += len(ack)
        elapsed = time.perf_counter() - started
        return elapsed / CYCLES, total_bytes // CYCLES, worst
    finally:
        proc.kill()
        proc.wait()
        line.close()


def _read_frame(master: int, decoder: Decoder) -> tuple[Message, int]:
    n = 0
    while True:
        ready, _, _ = select.select([master], [], [], 2.0)
        if not ready:
            raise SystemExit("a pad did not answer its poll")
        data = os.read(master, 4096)
        n += len(data)
        for got in decoder.feed(data):
            if isinstance(got, Message):
                return got, n


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        mpy = root / "mpy"
        mpy.mkdir()
        upy_env.compile_all(mpy)
        figures = heap_and_latency(mpy, root)
        bus = root / "bus"
        bus.mkdir()
        cycle, cycle_bytes, worst = poll_cycle(mpy, bus)
    wire_time = wire_seconds(cycle_bytes)
    steady = int(figures["heap_steady_total"])
    print(f"pad loop heap, steady state (all of it, code included): {steady / 1024:.1f} KB "
          f"(goal <= 32 KB) on a {upy_env.HEAPSIZE} heap")
    print(f"  of which the pad's objects: {int(figures['heap_steady_pad']) / 1024:.1f} KB; "
          f"drift over the run: {figures['heap_steady_drift']} bytes; "
          f"peak before collection: {int(figures['heap_peak_total']) / 1024:.1f} KB")
    print(f"press to frame on the wire, debounce excluded: median "
          f"{figures['press_to_wire_us_median']} us, max {figures['press_to_wire_us_max']} us "
          f"(unix port on this host; an RP2040 is far slower)")
    print(f"RS-485 poll cycle, {PADS} idle pads: {cycle * 1000:.1f} ms on the pty for "
          f"{cycle_bytes} bytes; at {BAUD} baud those bytes take {wire_time * 1000:.1f} ms")
    projected = wire_time + cycle
    print(f"  projected on a real bus (wire time + measured turnaround, not overlapped): "
          f"{projected * 1000:.1f} ms = {projected / wire_time:.2f}x wire time (goal <= 1.5x); "
          f"worst poll-to-reply {worst * 1000:.2f} ms")


if __name__ == "__main__":
    main()

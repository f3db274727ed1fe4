"""The live agent over MQTT, next to the raw parts it is built from, measured in one run.

- press -> durable ack latency (one pad, presses back to back) against the raw broker QoS 1
  round trip (paho -> mosquitto -> paho echo -> mosquitto -> paho) plus one raw fsync on the
  same disk: the agent's extra work is the decision, the journal commit and the ack frame;
- sustained durable presses/s with 100 pads pressing against raw paho -> paho QoS 1
  throughput (one publisher, one subscriber);
- the agent's resident memory with 100 counters.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.service.mqtt_link import nodelay
from tools.harness.mosquitto import Broker
from tools.padfleet import PadFleet, fleet_config

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench" / "live"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def client(broker: Broker, name: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name)
    c.max_inflight_messages_set(100)
    c.on_connect = lambda c, u, f, r, p: nodelay(c)
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def raw_round_trips(broker: Broker, n: int) -> list[float]:
    """Seconds per QoS 1 publish -> echo -> receive, one at a time."""
    got = threading.Event()
    echo, probe = client(broker, "echo"), client(broker, "probe")
    def bounce(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        c.publish("bench/back", m.payload, qos=1)

    echo.on_message = bounce
    probe.on_message = lambda c, u, m: got.set()
    echo.subscribe("bench/there", qos=1)
    probe.subscribe("bench/back", qos=1)
    time.sleep(0.3)
    out = []
    for _ in range(n):
        got.clear()
        start = time.perf_counter()
        probe.publish("bench/there", b"x" * 30, qos=1)
        got.wait(5)
        out.append(time.perf_counter() - start)
    for c in (echo, probe):
        c.disconnect()
        c.loop_stop()
    return out


def raw_fsyncs(folder: Path, n: int) -> list[float]:
    out = []
    with open(folder / "fsync.bin", "ab") as f:
        for _ in range(n):
            start = time.perf_counter()
            f.write(b"x" * 300)
            f.flush()
            os.fsync(f.fileno())
            out.append(time.perf_counter() - start)
    return out


def raw_throughput(broker: Broker, seconds: float) -> float:
    """QoS 1 messages/s from one paho client to another, publisher pipelining freely."""
    received = [0]
    sub, pub = client(broker, "sink"), client(broker, "source")
    sub.on_message = lambda c, u, m: received.__setitem__(0, received[0] + 1)
    sub.subscribe("bench/flood", qos=1)
    time.sleep(0.3)
    start = time.perf_counter()
    sent = 0
    while time.perf_counter() - start < seconds:
        if sent - received[0] < 200:  # stay a bounded window ahead of the receiver
            pub.publish("bench/flood", b"x" * 30, qos=1)
            sent += 1
        else:
            time.sleep(0.0005)
    elapsed = time.perf_counter() - start
    rate = received[0] / elapsed
    for c in (sub, pub):
        c.disconnect()
        c.loop_stop()
    return rate


def agent_run(broker: Broker, folder: Path, pads: int, seconds: float,
              gap_s: float) -> tuple[list[float], float, int]:
    """Latencies of acked presses, acked presses/s, and the agent's peak RSS (KiB)."""
    journal = folder / f"journal-{pads}.sqlite"
    text, fleet_pads = fleet_config("bench", pads, broker.host, broker.port, str(journal))
    config = folder / f"hall-{pads}.toml"
    config.write_text(text)
    agent = subprocess.Popen([sys.executable, "-m", "edge_agent", "run", "--config",
                              str(config), "--log-level", "WARNING"], cwd=ROOT)
    fleet = PadFleet("bench", fleet_pads, broker.host, broker.port, gap_s=gap_s)
    try:
        fleet.start()
        deadline = time.monotonic() + 20
        while not fleet.acked() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # warm up
        before, start = len(fleet.acked()), time.perf_counter()
        time.sleep(seconds)
        rate = (len(fleet.acked()) - before) / (time.perf_counter() - start)
        fleet.settle(30)
        rss = peak_rss_kib(agent.pid)
    finally:
        fleet.stop()
        agent.terminate()
        agent.wait(20)
    return fleet.latencies(), rate, rss


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main(argv: list[str] | None = None) -> int:
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        folder = Path(tmp)
        broker = Broker(folder / "broker")
        broker.start()
        try:
            rtt = raw_round_trips(broker, 400)
            fs = raw_fsyncs(folder, 400)
            latencies, _, _ = agent_run(broker, folder, 1, 8.0, gap_s=0.0)
            raw_rate = raw_throughput(broker, 5.0)
            _, rate, rss = agent_run(broker, folder, 100, 10.0, gap_s=0.0)
        finally:
            broker.stop()
    base50 = statistics.median(rtt) + statistics.median(fs)
    base99 = pct(rtt, 0.99) + pct(fs, 0.99)
    lat = latencies[len(latencies) // 10:]  # the first tenth is warm-up
    print("live agent over MQTT (same broker, same disk, one run)")
    print(f"  raw QoS1 round trip      p50 {statistics.median(rtt) * 1e3:7.2f} ms   "
          f"p99 {pct(rtt, 0.99) * 1e3:7.2f} ms")
    print(f"  raw fsync (300 B)        p50 {statistics.median(fs) * 1e3:7.2f} ms   "
          f"p99 {pct(fs, 0.99) * 1e3:7.2f} ms")
    print(f"  press -> durable ack     p50 {statistics.median(lat) * 1e3:7.2f} ms   "
          f"p99 {pct(lat, 0.99) * 1e3:7.2f} ms   ({len(lat)} presses)")
    print(f"  ratio to round trip + fsync: p50 {statistics.median(lat) / base50:.2f}x, "
          f"p99 {pct(lat, 0.99) / base99:.2f}x (goal p99 <= 3x)")
    print(f"  raw paho -> paho QoS1    {raw_rate:9.0f} msg/s")
    print(f"  durable presses, 100 pads {rate:8.0f} /s   = {rate / raw_rate:.0%} of raw "
          f"(goal >= 50%)")
    print(f"  agent peak RSS, 100 counters: {rss / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

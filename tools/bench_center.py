"""Benchmark: a backlog of journal records caught up by the outbox into the center.

    tools/bench center [--records 350000] [--batch 1000] [--cluster]

Outbox (this process) -> center (`python -m server_stub serve`, its own process) -> a real
redis-server, next to a raw stdlib http.server + json ingest loop (its own process, the
same bodies, the same batch size, a keep-alive client with TCP_NODELAY) measured in the same
run. With --cluster, the same catch-up into a center on a local three-master Redis Cluster
too (goal: >= 80% of the single Redis). Prints the rates in records/s and the ratios (goal:
the center >= 30% of the raw loop),
and the round trip of one-record batches on a kept-alive connection (a Nagle stall would show
as about 40 ms). Files go to var/bench/center/.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import redis

from edge_agent.config import parse_config
from edge_agent.hall_state import record_timeline
from edge_agent.journal import Journal, open_for_reading
from edge_agent.outbox import Outbox, batch_body
from edge_agent.service_config import CenterConfig
from edge_agent.timeline import EventParser
from server_stub.storage import flush_all
from tools import hallgen
from tools.harness.ports import HOST, free_port, listening
from tools.harness.redis_server import redis_argv

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench" / "center"
HALL = "bench"
TOKEN = "bench-agent-token-000000000000"
FIRST_DAY = date(2026, 3, 2)  # a Monday
RECORDS_PER_COUNTER_WEEK = 558  # what tools/hallgen makes, measured (seed 5, 20 counters)


def hall_toml(hall: str = HALL) -> str:
    return f'[hall]\nid = "{hall}"\n'


def generate_journal(path: Path, records: int, days: int = 7, hall: str = HALL,
                     seed: int = 5) -> int:
    """A journal of about ``records`` records over ``days`` days of a generated hall, written
    as the agent writes it (decided by the rules, hash-chained). Returns the count."""
    counters = max(1, round(records / RECORDS_PER_COUNTER_WEEK * 7 / days))
    config = parse_config(hall_toml(hall))
    events, _ = hallgen.generate(counters, [FIRST_DAY + timedelta(days=i) for i in range(days)],
                                 seed=seed)
    parser = EventParser(config.scale)
    with Journal(path) as journal:
        journal.set_meta("hall", hall)
        return record_timeline((parser.parse(e, n) for n, e in enumerate(events, 1)), config,
                               journal, batch=4096)


# --- the raw floor: stdlib http.server + json -------------------------------------------


class _RawIngest(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    stored: ClassVar[list[object]] = []

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        batch = json.loads(body)
        self.stored.extend(batch["records"])
        answer = json.dumps({"stored": len(batch["records"]), "already": 0,
                             "seq": batch["last_seq"], "hash": batch["head"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_raw(port: int) -> None:
    HTTPServer(("127.0.0.1", port), _RawIngest).serve_forever()


def raw_rate(journal: Path, port: int, batch: int) -> float:
    """records/s: the journal read, encoded and posted as the outbox does, to the raw server."""
    db = open_for_reading(journal)
    conn = _connect(port)
    start, seq, total = time.perf_counter(), 0, 0
    while rows := db.execute("SELECT seq, t_us, kind, event, outcome, prev, hash FROM records "
                             "WHERE seq > ? ORDER BY seq LIMIT ?", (seq, batch)).fetchall():
        conn.request("POST", "/v1/halls/bench/batches", batch_body("raw", rows),
                     {"Content-Type": "application/json"})
        conn.getresponse().read()
        seq, total = rows[-1][0], total + len(rows)
    elapsed = time.perf_counter() - start
    conn.close()
    db.close()
    return total / elapsed


def _connect(port: int, nodelay: bool = True) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.connect()
    assert conn.sock is not None
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(nodelay))
    return conn


# --- the center -------------------------------------------------------------------------


def center_rate(journal: Path, url: str, batch: int) -> float:
    outbox = Outbox(journal, HALL, "bench-agent", CenterConfig(url=url, token=TOKEN,
                                                               batch_records=batch))
    total = outbox.status()["backlog"]
    start = time.perf_counter()
    while outbox.status()["backlog"]:
        delay, _ = outbox.step()
        if delay and outbox.status()["backlog"]:
            raise SystemExit(f"the outbox stopped: {outbox.last_error}")
    elapsed = time.perf_counter() - start
    outbox.stop()
    return float(total) / elapsed


def round_trips(port: int, path: str, body: bytes, headers: dict[str, str], n: int = 200,
                nodelay: bool = True) -> float:
    """Median milliseconds of a small request on one kept-alive connection."""
    conn = _connect(port, nodelay)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        conn.request("GET" if not body else "POST", path, body or None, headers)
        conn.getresponse().read()
        times.append(time.perf_counter() - start)
    conn.close()
    return statistics.median(times) * 1000


# --- processes --------------------------------------------------------------------------


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    end = time.monotonic() + 20
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with status {proc.returncode}")
        if listening(HOST, port):
            return
        time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on port {port}")


@contextmanager
def process(argv: list[str], port: int, what: str, log: Path) -> Iterator[int]:
    """A server process listening on ``port``; its process id."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                cwd=ROOT)
    try:
        wait_port(port, proc, what)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def center_files(folder: Path, storage: str = "", name: str = "center.toml") -> Path:
    import hashlib

    (folder / "hall.toml").write_text(hall_toml())
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    config = folder / name
    config.write_text(f'{storage}[halls.{HALL}]\ntoken_sha256 = "{digest}"\n'
                      'config = "hall.toml"\nregion_code = "310118"\n')
    return config


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tools/bench center", description=__doc__.split("\n")[0])
    p.add_argument("--records", type=int, default=350_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--cluster", action="store_true",
                   help="also into a local three-master Redis Cluster")
    p.add_argument("--rounds", type=int, default=1,
                   help="catch-ups of each kind, alternated; the best is shown")
    args = p.parse_args(argv)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    journal = WORK / "journal.sqlite"
    start = time.perf_counter()
    n = generate_journal(journal, args.records)
    print(f"center: backlog catch-up of {n:,} journal records (generated in "
          f"{time.perf_counter() - start:.1f} s), batches of {args.batch}, keep-alive")
    py = sys.executable
    raw_port, center_port, redis_port = free_port(), free_port(), free_port()
    argv_redis = redis_argv(redis_port, WORK, aof=True)
    config = center_files(WORK)
    center_argv = [py, "-m", "server_stub", "serve", "--config", str(config), "--listen",
                   f"127.0.0.1:{center_port}", "--redis", f"redis://127.0.0.1:{redis_port}/0",
                   "--log-level", "warning"]
    rates: dict[str, list[float]] = {"raw": [], "single": [], "cluster": []}
    cpu: dict[str, list[float]] = {"single": [], "cluster": []}
    with ExitStack() as stack:
        stack.enter_context(process([py, "-c", "from tools.bench_center import serve_raw; "
                                     f"serve_raw({raw_port})"], raw_port, "raw server",
                                    WORK / "raw.log"))
        stack.enter_context(process(argv_redis, redis_port, "redis-server", WORK / "redis.log"))
        single_pid = stack.enter_context(process(center_argv, center_port, "center",
                                                 WORK / "center.log"))
        single = redis.Redis(host="127.0.0.1", port=redis_port)
        stack.callback(single.close)
        targets = [("single", f"http://127.0.0.1:{center_port}", single, single_pid)]
        if args.cluster:
            targets.append(("cluster", *stack.enter_context(_cluster_center())))
        for _ in range(args.rounds):
            rates["raw"].append(raw_rate(journal, raw_port, args.batch))
            for name, url, client, pid in targets:
                flush_all(client)
                before = cpu_seconds(pid)
                rates[name].append(center_rate(journal, url, args.batch))
                cpu[name].append((cpu_seconds(pid) - before) / n * 1e6)
        raw_ms = round_trips(raw_port, "/x", batch_body("bench-agent", _one_row(journal)),
                             {"Content-Type": "application/json"})
        one = (f"/v1/halls/{HALL}/batches", batch_body("bench-agent", _one_row(journal)),
               {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
                "Idempotency-Key": "bench-agent:1-1"})
        center_ms = round_trips(center_port, *one)
        nagle_ms = round_trips(center_port, *one, n=20, nodelay=False)
    raw, ours = max(rates["raw"]), max(rates["single"])
    print(f"  {'':<34}{'records/s':>12}{'1-request round trip':>24}{'center CPU':>14}")
    print(f"  {'raw http.server + json.loads':<34}{raw:>12,.0f}{raw_ms:>21.2f} ms")
    print(f"  {'outbox -> center -> redis-server':<34}{ours:>12,.0f}{center_ms:>21.2f} ms"
          f"{min(cpu['single']):>9.1f} µs/rec")
    if args.cluster:
        clustered = max(rates["cluster"])
        print(f"  {'outbox -> center -> Redis Cluster':<34}{clustered:>12,.0f}"
              f"{'(3 masters)':>24}{min(cpu['cluster']):>9.1f} µs/rec")
    if args.rounds > 1:
        print("  each round (records/s): " + "; ".join(
            f"{k} " + ", ".join(f"{r:,.0f}" for r in v) for k, v in rates.items() if v))
    print(f"  ratio {ours / raw:.0%} of the raw loop (goal >= 30%)")
    if args.cluster:
        print(f"  cluster: {clustered / ours:.0%} of the single Redis (goal >= 80%), "
              f"{clustered / raw:.0%} of the raw loop (goal >= 30%); the center's CPU per "
              f"record {min(cpu['cluster']) / min(cpu['single']):.2f}x the single Redis's")
    print(f"  the same one-record batch from a client without TCP_NODELAY: {nagle_ms:.2f} ms "
          "(the Nagle stall the outbox avoids)")
    shutil.rmtree(WORK, ignore_errors=True)
    return 0


@contextmanager
def _cluster_center() -> Iterator[tuple[str, Any, int]]:
    """A center on a local three-master cluster: its URL, a client, its process id."""
    from tools.harness.redis_cluster import running_cluster

    port = free_port()
    with running_cluster(WORK / "cluster") as cluster:
        seeds = ", ".join(f'"{h}:{p}"' for h, p in cluster.seeds)
        config = center_files(WORK, f"[storage]\ncluster = [{seeds}]\n", "cluster.toml")
        argv = [sys.executable, "-m", "server_stub", "serve", "--config", str(config),
                "--listen", f"127.0.0.1:{port}", "--log-level", "warning"]
        client = cluster.client()
        try:
            with process(argv, port, "center on the cluster", WORK / "center-cluster.log") as pid:
                yield f"http://127.0.0.1:{port}", client, pid
        finally:
            client.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _one_row(journal: Path) -> list[tuple[object, ...]]:
    db = open_for_reading(journal)
    rows = db.execute("SELECT seq, t_us, kind, event, outcome, prev, hash FROM records "
                      "WHERE seq = 1").fetchall()
    db.close()
    return rows


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

"""Benchmarks of the rules core and the journal; prints figures and ratios.

    tools/bench                 # everything below
    tools/bench replay          # a generated month of a 100-counter hall through `replay`
    tools/bench journal         # durable appends next to a raw SQLite synchronous=FULL loop
    tools/bench firmware        # pad heap, press-to-wire time, RS-485 poll cycle (MicroPython),
                                # and the screens below
    tools/bench screens         # pad heap with a 3,000-glyph font, invite draw allocation,
                                # glyph lookup time (MicroPython unix port)
    tools/bench live            # the running agent over MQTT next to raw broker/fsync figures
    tools/bench center          # 350k-record backlog catch-up next to a raw HTTP+JSON ingest
    tools/bench center --cluster    # the same, also into a local three-master Redis Cluster
    tools/bench archive [--counters 100]  # a year of a hall, month by month, archiving on
    tools/bench startup         # agent start-up with a day's to a year's journal (not in "all")

Files go to var/bench/ on the project's own disk (a tmpfs /tmp would make fsync free).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from edge_agent.journal import Entry, Journal, canonical
from tools import hallgen

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench"
CONFIG = '[hall]\nid = "bench"\n'


def timeline(counters: int, days: int, name: str) -> tuple[Path, int]:
    path = WORK / name
    all_days = hallgen.month_days("2026-03")[:days]
    events, _ = hallgen.generate(counters, all_days, seed=2026)
    with path.open("w", encoding="utf-8") as out:
        n = hallgen.write(events, out)
    return path, n


def run_replay(path: Path, config: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one `python -m edge_agent replay` process."""
    start = time.perf_counter()
    with open(os.devnull, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "edge_agent", "replay", str(path),
                                 "--config", str(config), "--month", "2026-03"], stdout=sink)
        _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"replay failed with status {status}")
    return elapsed, usage.ru_maxrss


def bench_replay(counters: int) -> None:
    config = WORK / "hall.toml"
    config.write_text(CONFIG)
    baseline = _python_baseline_rss()
    print(f"replay: a {counters}-counter hall, generated month (2026-03, 22 working days)")
    print(f"  {'input':<8}{'events':>9}{'seconds':>9}{'events/s':>11}{'peak RSS':>11}")
    for label, days in (("1 week", 7), ("1 month", 31)):
        path, n = timeline(counters, days, f"{label.replace(' ', '')}.jsonl")
        best = min(run_replay(path, config) for _ in range(3))
        seconds, rss = best
        print(f"  {label:<8}{n:>9}{seconds:>9.2f}{n / seconds:>11,.0f}{rss / 1024:>9.1f}MB")
    print(f"  (a bare python interpreter with the package imported: {baseline / 1024:.1f} MB)")
    print("  goals: >= 200,000 events/s; peak < 50 MB, flat from a week to a month")


def _python_baseline_rss() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "import edge_agent.cli"])
    _, _, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss


def _entries(n: int) -> list[Entry]:
    """Journal entries shaped like the agent's: a rating press and its decision."""
    base = 1_772_400_000_000_000
    out = []
    for i in range(n):
        event = {"t": "2026-03-02T09:15:00.000+08:00", "type": "rating", "counter": "A01",
                 "level": "satisfied", "source": "pad", "device": "A01-pad", "seq": i}
        outcome = {"decision": {"line": i, "counter": "A01", "accepted": True,
                                "reason": "accepted", "ticket": "A01-0042", "staff": "S001"},
                   "displays": [{"counter": "A01", "screen": "thanks"}]}
        out.append(Entry(base + i * 1000, "rating", event, outcome))
    return out


def raw_sqlite_rate(entries: list[Entry], batch: int, path: Path) -> float:
    """The floor: the same rows' bytes inserted by a bare WAL + synchronous=FULL loop."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE r (seq INTEGER PRIMARY KEY, t INTEGER, kind TEXT, event TEXT, "
               "outcome TEXT, prev BLOB, hash BLOB)")
    rows = [(i + 1, e.t_us, e.kind, canonical(e.event), canonical(e.outcome), bytes(32),
             bytes(32)) for i, e in enumerate(entries)]
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?, ?, ?)", rows[i:i + batch])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return len(rows) / elapsed


def journal_rate(entries: list[Entry], batch: int, path: Path) -> float:
    """Our journal from the caller's entries: JSON encoding, hash chain, durable commit."""
    with Journal(path) as j:
        start = time.perf_counter()
        for i in range(0, len(entries), batch):
            j.append_many(entries[i:i + batch])
        return len(entries) / (time.perf_counter() - start)


def journal_rows_rate(entries: list[Entry], batch: int, path: Path) -> float:
    """Our journal from rows the caller already encoded: hash chain and durable commit only."""
    rows = [(e.t_us, e.kind, canonical(e.event), canonical(e.outcome)) for e in entries]
    with Journal(path) as j:
        start = time.perf_counter()
        for i in range(0, len(rows), batch):
            j.append_rows(rows[i:i + batch])
        return len(rows) / (time.perf_counter() - start)


def bench_journal() -> None:
    print("journal: durable appends (WAL, synchronous=FULL, one commit per batch)")
    print(f"  {'batch':>6}{'records':>9}{'raw sqlite/s':>14}{'rows/s':>10}{'ratio':>7}"
          f"{'entries/s':>11}{'ratio':>7}")
    for batch, n in ((1, 1500), (16, 12_000), (256, 60_000)):
        entries = _entries(n)
        raw, rows, full = (_fresh(fn, entries, batch)
                           for fn in (raw_sqlite_rate, journal_rows_rate, journal_rate))
        print(f"  {batch:>6}{n:>9}{raw:>14,.0f}{rows:>10,.0f}{raw / rows:>6.2f}x"
              f"{full:>11,.0f}{raw / full:>6.2f}x")
    print("  raw: pre-encoded rows, plain INSERT; rows: the journal given encoded rows (adds the")
    print("  hash chain); entries: the journal given dicts (adds JSON encoding). ratio = raw /")
    print("  journal; goal <= 2x at the same batch size")


def _fresh(fn: Callable[[list[Entry], int, Path], float], entries: list[Entry],
           batch: int) -> float:
    folder = WORK / "journal"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return fn(entries, batch, folder / "j.sqlite")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tools/bench", description=__doc__.split("\n")[0])
    p.add_argument("what", nargs="*", default=[],
                   choices=("replay", "journal", "firmware", "screens", "live", "center", "archive",
                            "startup", []))
    p.add_argument("--counters", type=int, default=100)
    p.add_argument("--no-full-replay", action="store_true",
                   help="startup: only the starts from snapshots")
    args, rest = p.parse_known_args(argv)  # the rest: options of `center` and `archive`
    what = args.what or ["replay", "journal", "firmware", "live", "center"]
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"sqlite {sqlite3.sqlite_version}")
    if "replay" in what:
        bench_replay(args.counters)
    if "journal" in what:
        bench_journal()
    if "firmware" in what:
        from tools import bench_firmware

        bench_firmware.main()
    if "firmware" in what or "screens" in what:
        from tools import bench_screens

        bench_screens.main()
    if "live" in what:
        from tools import bench_live

        bench_live.main()
    if "center" in what:
        from tools import bench_center

        bench_center.main(rest)
    if "archive" in what:
        from tools import bench_archive

        bench_archive.main(["--counters", str(args.counters), *rest])
    if "startup" in what:
        from tools import bench_startup

        bench_startup.main(["--no-full-replay"] if args.no_full_replay else [])
    return 0


if __name__ == "__main__":
    sys.exit(main())

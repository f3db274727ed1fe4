"""`tools/bench startup`: how soon a restarted agent answers, whatever its journal's length.

Journals of a day, a month, a quarter and a year of a 100-counter hall are generated (hallgen,
recorded by the `record` command's own function, with its snapshots) and cached under
var/bench/startup/ (a year takes minutes to make; the time is printed when it is made). For
each, the agent is started as a process (`python -m edge_agent run`) on a copy of the journal,
with a real mosquitto and one MQTT pad pressing from before the start: the figures are the
time from the process's start to its status page answering and to the pad's first ack. Next
to them, the same start on the same journal with its snapshots removed (the full replay).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from edge_agent.config import parse_config
from edge_agent.hall_state import code_fingerprint, config_fingerprint, record_timeline
from edge_agent.journal import Journal
from edge_agent.rules.calendar import to_us
from edge_agent.timeline import EventParser
from tools import hallgen
from tools.harness.mosquitto import Broker
from tools.harness.ports import free_port
from tools.padfleet import FleetPad, PadFleet

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench" / "startup"
FIRST_DAY = date(2025, 11, 3)  # a Monday; a year of it ends before today
SIZES = (("day", 1), ("month", 30), ("quarter", 91), ("year", 365))
PAD = ("P-A01", "A01", bytes(range(32)))  # at hallgen's first counter


def hall_text(journal: Path, mqtt_port: int, status_port: int) -> str:
    """The hall file: 100 counters (hallgen's), one MQTT pad at A01. Only the service's
    sections change from run to run, and snapshots do not depend on them."""
    return (f'[hall]\nid = "bench"\n'
            f'[agent]\njournal = "{journal}"\nstatus_listen = "127.0.0.1:{status_port}"\n'
            f'[mqtt]\nhost = "127.0.0.1"\nport = {mqtt_port}\n'
            f'[devices.{PAD[0]}]\ncounter = "{PAD[1]}"\nlink = "mqtt"\n'
            f'address = 1\nkey = "{PAD[2].hex()}"\n')


def cached_journal(label: str, days: int, counters: int, year_days: int) -> Path:
    """The first ``days`` days of the cached year (made once: the longest part of the run)."""
    config = parse_config(hall_text(Path("j"), 1, 1))
    stem = f"{counters}-{year_days}-{code_fingerprint()[:8]}-{config_fingerprint(config)[:8]}"
    year = WORK / f"year-{stem}.sqlite"
    if not year.exists():
        _record_year(year, year_days, counters)
    if days >= year_days:
        return year
    path = WORK / f"{label}-{stem}.sqlite"
    if not path.exists():
        _prefix(year, path, to_us(datetime.combine(FIRST_DAY + timedelta(days=days), dtime(),
                                                   config.tz)))
    return path


def _record_year(path: Path, days: int, counters: int) -> None:
    config = parse_config(hall_text(Path("j"), 1, 1))
    started = time.perf_counter()
    events, _ = hallgen.generate(counters, [FIRST_DAY + timedelta(days=i) for i in range(days)],
                                 seed=2026)
    parser = EventParser(config.scale)
    partial = path.with_suffix(".partial")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    with Journal(partial) as journal:
        journal.set_meta("hall", config.hall_id)
        n = record_timeline((parser.parse(e, i) for i, e in enumerate(events, 1)), config,
                            journal, 1024)
    _checkpoint(partial)
    partial.rename(path)
    print(f"  (made the year's journal: {n:,} events in {time.perf_counter() - started:.0f} s,"
          f" {path.stat().st_size / 2**20:,.0f} MiB; shorter journals are its first days)",
          flush=True)


def _prefix(year: Path, path: Path, end_us: int) -> None:
    """A journal of the year's records before ``end_us`` (and not the snapshot at the end of
    them: `record` writes a day's closing snapshot when the next day's first event comes)."""
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    Journal(partial).close()  # the schema
    db = sqlite3.connect(partial, isolation_level=None)
    db.execute("ATTACH DATABASE ? AS year", (f"file:{year}?mode=ro",))
    cut = db.execute("SELECT coalesce(min(seq), 1 + (SELECT max(seq) FROM year.records)) - 1 "
                     "FROM year.records WHERE t_us >= ?", (end_us,)).fetchone()[0]
    if db.execute("SELECT kind FROM year.records WHERE seq = ?", (cut,)).fetchone() == (
            "snapshot",):
        cut -= 1
    db.execute("BEGIN")
    db.execute("INSERT INTO main.records SELECT * FROM year.records WHERE seq <= ?", (cut,))
    db.execute("INSERT INTO main.snapshots SELECT * FROM year.snapshots WHERE seq <= ?", (cut,))
    db.execute("INSERT OR REPLACE INTO main.meta SELECT * FROM year.meta")
    db.execute("COMMIT")
    db.execute("DETACH DATABASE year")
    db.close()
    _checkpoint(partial)
    partial.rename(path)


def _checkpoint(path: Path) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def start_once(journal: Path, folder: Path, snapshots: bool) -> tuple[float, float, int]:
    """(seconds to the status page answering, seconds to the first ack, records). A fresh
    broker each time: no frames of an earlier run are queued for the agent."""
    broker = Broker(folder / "broker")
    broker.start()
    try:
        return _start_once(journal, folder, broker, snapshots)
    finally:
        broker.stop()
        shutil.rmtree(folder / "broker", ignore_errors=True)


def _start_once(journal: Path, folder: Path, broker: Broker, snapshots: bool
                ) -> tuple[float, float, int]:
    copy = folder / "journal.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(journal, copy)
    os.sync()  # the copy's writeback is not the agent's start-up
    db = sqlite3.connect(copy, isolation_level=None)
    records = db.execute("SELECT max(seq) FROM records").fetchone()[0]
    if not snapshots:
        db.execute("DELETE FROM snapshots")
    db.close()
    status_port = free_port()
    config = folder / "hall.toml"
    config.write_text(hall_text(copy, broker.port, status_port))
    fleet = PadFleet("bench", [FleetPad(*PAD)], broker.host, broker.port, gap_s=0.05)
    fleet.start()  # pressing before the agent runs: the first ack is the first press it takes
    try:
        started = time.perf_counter()
        agent = subprocess.Popen([sys.executable, "-m", "edge_agent", "run", "--config",
                                  str(config), "--log-level", "WARNING"], cwd=ROOT)
        try:
            status = ack = None
            while (status is None or ack is None) and time.perf_counter() - started < 600:
                if agent.poll() is not None:
                    raise SystemExit(f"the agent exited with {agent.returncode}")
                if status is None and _answers(status_port):
                    status = time.perf_counter() - started
                if ack is None and fleet.acked():
                    ack = time.perf_counter() - started
                time.sleep(0.005)
            if status is None or ack is None:
                raise SystemExit("the agent did not answer within 600 s")
        finally:
            agent.terminate()
            agent.wait(60)
    finally:
        fleet.stop()
    return status, ack, records


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status.json", timeout=0.5) as r:
            return r.status == 200 and len(r.read()) > 2
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    """``--no-full-replay``: only the starts from the snapshots (the full replay of a year
    takes minutes)."""
    full = "--no-full-replay" not in (argv or [])
    counters = 100
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"agent start-up: a {counters}-counter hall, journals made by `record` "
          f"(snapshots at each day's close), one MQTT pad pressing from before the start")
    year_days = SIZES[-1][1]
    journals = [(label, cached_journal(label, days, counters, year_days))
                for label, days in SIZES]
    print(f"  {'journal':<9}{'records':>11}{'MiB':>7}{'status page':>13}{'first ack':>11}"
          f"{'full replay: status':>21}{'first ack':>11}")
    rows = []
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        folder = Path(tmp)
        for label, path in journals:
            fast = min((start_once(path, folder, True) for _ in range(3)), key=lambda r: r[1])
            slow = start_once(path, folder, False) if full else (float("nan"),) * 2 + (0,)
            rows.append((label, fast))
            print(f"  {label:<9}{fast[2]:>11,}{path.stat().st_size / 2**20:>7.0f}"
                  f"{fast[0]:>12.2f}s{fast[1]:>10.2f}s{slow[0]:>20.2f}s{slow[1]:>10.2f}s",
                  flush=True)
    day, year = rows[0][1][1], rows[-1][1][1]
    print(f"  first ack, year / day: {year / day:.2f}x (goal: year < 2 s, <= 1.20x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

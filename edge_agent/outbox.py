"""The outbox: sends the journal to the center in batches, each record once, whatever fails.

One thread with its own read-only connection to the journal (the core's Journal is the only
writer; WAL lets both work at once). At start it asks the center which record it holds last
(GET head) and checks that record against the journal; then it sends the records after it in
batches of up to ``batch_records`` (POST batches, with an idempotency key and the chain's
hashes). The center stores a batch atomically and counts records it already holds as such,
so a batch sent twice (a lost answer, a restart between send and confirm) is stored once.

- 5xx, 429, a timeout or a connection error: retried with exponential back-off and full
  jitter, up to ``retry_max_s`` between tries; the journal keeps everything meanwhile.
- 409 (a gap: the center holds less, or other, than thought): ask the head again.
- 422 and other refusals (the journal's chain is broken, a token is wrong): logged as errors
  and shown on the status page; tried again every ``retry_max_s``.

It also pulls the center's repair list (GET faults?after=N): fault records filed at the center
and the IT department's rulings on repair records, and puts each on the core's inbox as a
:class:`FaultRecord`. The core journals each (fault_report with ref ``center-N``,
fault_cleared, fault_verified) with the entry's number in the record's ``center_entry``
(edge_agent.records), which is how the outbox, after a restart, knows which it handed over.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import random
import signal
import socket
import sqlite3
import ssl
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from edge_agent.journal import JournalError, open_for_reading, read_meta
from edge_agent.records import CENTER_ENTRY, FaultRecord, center_entry
from edge_agent.rules.vocabulary import FaultVerdict, Source
from edge_agent.service_config import CenterConfig

log = logging.getLogger("edge_agent.outbox")
ENTRY_KINDS = ("report", "cleared", "ruling")
VERDICTS = tuple(FaultVerdict)
REPORT_SOURCES = (Source.STAFF, Source.IT)
# What a kept-alive connection the server closed while idle fails with on its next use.
STALE = (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected)
_SELECT = ("SELECT seq, t_us, kind, event, outcome, prev, hash FROM records "
           "WHERE seq > ? ORDER BY seq LIMIT ?")


def fault_item(entry: dict[str, Any]) -> FaultRecord:
    """One entry of GET faults as an inbox item; ValueError / KeyError / TypeError when the
    center's answer is not understood."""
    kind = entry.get("kind") or ("report" if entry["active"] else "cleared")
    if kind not in ENTRY_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    ref = str(int(entry["ref"]))
    if kind == "ruling":
        verdict = entry["verdict"]
        if verdict not in VERDICTS or not isinstance(entry["fault_ref"], str):
            raise ValueError(f"a ruling with verdict {verdict!r}, ref {entry['fault_ref']!r}")
        return FaultRecord(str(entry["device"]), False, int(entry["t_us"]),
                           str(entry.get("note") or ""), ref, kind,
                           fault_ref=entry["fault_ref"], verdict=FaultVerdict(verdict))
    source = entry.get("source") or "staff"
    if source not in REPORT_SOURCES:
        raise ValueError(f"unknown source {source!r}")
    return FaultRecord(str(entry["device"]), kind == "report", int(entry["t_us"]),
                       str(entry["reason"]), ref, kind, Source(source))


class FaultSink(Protocol):
    """Where pulled entries go: the core's inbox."""

    def put(self, item: FaultRecord) -> None: ...


class RetryClock(Protocol):
    def time(self) -> float: ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait until ``event`` is set or ``seconds`` have passed; True if it was set."""
        ...


class WallClock:
    def time(self) -> float:
        return time.time()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(seconds)


class CenterUnreachable(Exception):
    """No HTTP answer: connection refused or reset, a timeout, a TLS failure."""


class Retry(Exception):
    """The center cannot take it now (5xx, 429, unreachable): try again after a back-off."""


class Gap(Exception):
    """409: the center's head is not where the outbox thought."""


class Refused(Exception):
    """The center refuses what the journal holds, or who sends it: a person must look."""


# --- HTTP -------------------------------------------------------------------------------


class CenterClient:
    """Keep-alive HTTP(S) to the center with TCP_NODELAY (headers and body go in two writes;
    without it Nagle and delayed ACKs stall each request by 40 ms). No policy here."""

    def __init__(self, url: str, token: str, timeout_s: float, ca_file: str = "") -> None:
        parts = urlsplit(url)
        self.base = parts.path.rstrip("/")
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port
        self._https = parts.scheme == "https"
        self._context = ssl.create_default_context(cafile=ca_file or None) if self._https \
            else None
        self._timeout = timeout_s
        self._headers = {"Authorization": f"Bearer {token}"}
        self._conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._context)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """(status, the JSON answer or its text); raises CenterUnreachable with no answer.

        A kept-alive connection the center has closed while idle (uvicorn does after 5 s)
        fails on first use: that is retried at once on a new connection, never counted as
        the center being down. Every request is safe to repeat (batches are idempotent)."""
        all_headers = {**self._headers, **(headers or {})}
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        reused = self._conn is not None
        try:
            try:
                response, data = self._exchange(method, path, body, all_headers)
            except STALE as exc:
                if not reused:
                    raise
                log.debug("outbox: kept-alive connection was closed (%s): reconnecting", exc)
                self.close()
                response, data = self._exchange(method, path, body, all_headers)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise CenterUnreachable(f"{type(exc).__name__}: {exc}" if str(exc)
                              else type(exc).__name__) from None
        if response.will_close:
            self.close()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, data.decode(errors="replace")[:300]

    def _exchange(self, method: str, path: str, body: bytes | None,
                  headers: dict[str, str]) -> tuple[http.client.HTTPResponse, bytes]:
        if self._conn is None:
            self._conn = self._connect()
        self._conn.request(method, self.base + path, body, headers)
        response = self._conn.getresponse()
        return response, response.read()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# --- the outbox -------------------------------------------------------------------------


class Outbox:
    """Sends one hall's journal to the center; see the module's doc."""

    def __init__(self, journal_path: str | Path, hall_id: str, agent_id: str,
                 center: CenterConfig, inbox: FaultSink | None = None,
                 clock: RetryClock | None = None, *, rng: random.Random | None = None,
                 base_delay_s: float = 1.0, idle_s: float = 30.0,
                 fault_poll_s: float = 60.0) -> None:
        self.journal_path = Path(journal_path)
        self.hall = hall_id
        self.agent = agent_id
        self.center = center
        self.inbox = inbox
        self.clock = clock or WallClock()
        self.rng = rng or random.Random()
        self.base_delay_s = base_delay_s
        self.idle_s = idle_s
        self.fault_poll_s = fault_poll_s
        self.client = CenterClient(center.url, center.token, center.timeout_s, center.ca_file)
        self._status_db = _read_only(self.journal_path, hall_id)
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._db: sqlite3.Connection | None = None
        self._confirmed: int | None = None  # None: ask the center's head first
        self._known_confirmed = 0
        self._failures = 0
        self.batch = center.batch_records  # halved while the center finds batches too large
        self._handed_ref = self._journaled_ref()
        self._next_fault_poll = 0.0
        self.last_error: str | None = None
        self.last_ok: float | None = None
        self.broken = False
        self.sent_batches = 0
        self.tries = 0

    # --- the agent's side -----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """New records were committed: send them soon (called by the core)."""
        self._wakeup.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
        else:
            self._close_journal()  # step() was driven by the caller's thread
        self.client.close()
        with self._lock:
            self._status_db.close()

    def status(self) -> dict[str, Any]:
        with self._lock:
            row = self._status_db.execute("SELECT max(seq) FROM records").fetchone()
        head = row[0] or 0
        confirmed = self._known_confirmed
        return {"url": self.center.url, "backlog": max(0, head - confirmed),
                "confirmed_seq": confirmed, "last_error": self.last_error,
                "last_ok": None if self.last_ok is None else _iso(self.last_ok),
                "state": "broken" if self.broken else "retrying" if self._failures else "ok"}

    # --- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                self._wakeup.clear()  # a wake() from here on cuts the next idle wait short
                try:
                    delay, wakeable = self.step()
                except Exception as exc:  # never let the thread die: the journal keeps it all
                    log.exception("outbox: unexpected failure")
                    self._failures += 1
                    self.last_error = f"unexpected: {type(exc).__name__}: {exc}"
                    self._confirmed = None
                    delay, wakeable = self._backoff(), False
                if delay > 0:
                    self.clock.wait(self._wakeup if wakeable else self._stopping, delay)
        finally:
            self._close_journal()

    def _close_journal(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def step(self) -> tuple[float, bool]:
        """One round: (seconds to wait before the next, whether wake() may cut it short)."""
        self.tries += 1
        if self._db is None:
            self._db = open_for_reading(self.journal_path)
        try:
            if self._confirmed is None:
                self._resume()
            if self.inbox is not None and self.clock.time() >= self._next_fault_poll:
                self._pull_faults()
            sent = self._send_batch()
        except Retry as exc:
            self._failures += 1
            self._note_error(str(exc), logging.WARNING)
            return self._backoff(), False
        except Gap as exc:
            self._failures += 1
            self._note_error(str(exc), logging.WARNING)
            self._confirmed = None
            return (0.0 if self._failures <= 3 else self._backoff()), False
        except Refused as exc:
            self._failures += 1
            self.broken = True
            self._confirmed = None
            self._note_error(str(exc), logging.ERROR)
            return self.center.retry_max_s, False
        self._failures, self.broken = 0, False
        self.last_ok = self.clock.time()
        return (0.0, False) if sent else (self.idle_s, True)

    def _backoff(self) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^failures)]."""
        ceiling = min(self.center.retry_max_s, self.base_delay_s * 2 ** min(self._failures, 40))
        return self.rng.uniform(0, ceiling)

    def _note_error(self, message: str, level: int) -> None:
        self.last_error = message
        loud = "REFUSED BY THE CENTER, a person must look: " if level >= logging.ERROR else ""
        log.log(level, "outbox to %s: %s%s (try %d)", self.center.url, loud, message,
                self._failures)

    def _call(self, method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None) -> tuple[int, Any]:
        try:
            status, answer = self.client.request(method, f"/v1/halls/{quote(self.hall)}{path}",
                                                 body, headers)
        except CenterUnreachable as exc:
            raise Retry(f"center unreachable: {exc}") from None
        if status >= 500 or status == 429:
            raise Retry(f"center answered {status}: {_reason(answer)}")
        if status == 409:
            raise Gap(f"center answered 409: {_reason(answer)}")
        if status >= 400 and status != 413:
            raise Refused(f"center answered {status}: {_reason(answer)}")
        return status, answer

    # --- resuming from the center's head -----------------------------------------------------

    def _resume(self) -> None:
        _, answer = self._call("GET", "/head")
        try:
            seq, digest = int(answer["seq"]), bytes.fromhex(answer["hash"])
        except (TypeError, KeyError, ValueError):
            raise Retry(f"the center's head is not understood: {answer!r}") from None
        ours = self._hash_at(seq)
        if seq and ours is None:
            raise Refused(f"the center holds {seq} records of hall {self.hall}, the journal "
                          "fewer: is this the hall's journal?")
        if seq and ours != digest:
            raise Refused(f"journal record {seq} differs from the center's copy (center "
                          f"{digest.hex()}, journal {ours.hex() if ours else None}): the "
                          "journal was rewritten or replaced")
        self._confirmed = self._known_confirmed = seq
        log.info("outbox: the center holds hall %s up to record %d", self.hall, seq)

    def _hash_at(self, seq: int) -> bytes | None:
        assert self._db is not None
        row = self._db.execute("SELECT hash FROM records WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else bytes(row[0])

    # --- sending ----------------------------------------------------------------------------

    def _send_batch(self) -> bool:
        assert self._db is not None and self._confirmed is not None
        rows = self._db.execute(_SELECT, (self._confirmed, self.batch)).fetchall()
        if not rows:
            return False
        first, last = rows[0][0], rows[-1][0]
        body = batch_body(self.agent, rows)
        status, answer = self._call("POST", "/batches", body,
                                    {"Idempotency-Key": f"{self.agent}:{first}-{last}"})
        if status == 413:
            if self.batch == 1:
                raise Refused(f"record {first} alone is larger than the center accepts")
            self.batch = max(1, self.batch // 2)
            log.warning("outbox: the center refused %d records as too large; batches of %d "
                        "now", len(rows), self.batch)
            return True
        self.sent_batches += 1
        if not isinstance(answer, dict):
            raise Retry(f"the center's answer is not understood: {answer!r}")
        if answer.get("seq") != last or answer.get("hash") != rows[-1][6].hex():
            self._confirmed = None  # the center's head is not this batch's end: ask again
            return True
        self._confirmed = self._known_confirmed = last
        return True

    # --- fault records from the center ------------------------------------------------------

    def _journaled_ref(self) -> int:
        """The highest entry of the center's list the core journaled (its records'
        ``center_entry``; in older journals, their reasons' leading number): reports, clears
        and rulings alike."""
        best = 0
        with self._lock:  # canonical JSON: sorted keys, no spaces
            rows = self._status_db.execute(
                "SELECT event FROM records WHERE event LIKE ? OR event LIKE ?",
                (f'%"{CENTER_ENTRY}":%', '%"reason":"center:%'))
            for (event,) in rows:
                entry = center_entry(json.loads(event))
                if entry is not None:
                    best = max(best, entry)
        return best

    def _pull_faults(self) -> None:
        assert self.inbox is not None
        _, answer = self._call("GET", f"/faults?after={self._handed_ref}")
        try:
            items = [fault_item(f) for f in answer["faults"]]
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise Retry(f"the center's fault records are not understood ({exc}): "
                        f"{answer!r:.200}") from None
        for item in items:
            self.inbox.put(item)
            self._handed_ref = max(self._handed_ref, int(item.ref))
        self._next_fault_poll = self.clock.time() + self.fault_poll_s


def batch_body(agent: str, rows: list[tuple[Any, ...]]) -> bytes:
    """The POST body for journal rows (seq, t_us, kind, event, outcome, prev, hash)."""
    records = [{"seq": seq, "t_us": t_us, "kind": kind, "event": event, "outcome": outcome,
                "prev": prev.hex(), "hash": digest.hex()}
               for seq, t_us, kind, event, outcome, prev, digest in rows]
    return json.dumps({"agent": agent, "first_seq": rows[0][0], "last_seq": rows[-1][0],
                       "head": rows[-1][6].hex(), "records": records},
                      ensure_ascii=False, separators=(",", ":")).encode()


def _read_only(path: Path, hall: str) -> sqlite3.Connection:
    """A connection for status() and the start-up scan, usable from any thread (locked)."""
    open_for_reading(path).close()  # checks the file is a journal, with clear errors
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                         check_same_thread=False)
    journaled = read_meta(db, "hall")
    if journaled is not None and journaled != hall:
        db.close()
        raise JournalError(f"{path} is the journal of hall {journaled!r}, not {hall!r}")
    return db


def _reason(answer: Any) -> str:
    if isinstance(answer, dict):
        return str(answer.get("reason") or answer.get("error") or answer)
    return str(answer)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


# --- command line: catch a journal up by hand -------------------------------------------


def main(argv: list[str] | None = None, clock: RetryClock | None = None) -> int:
    """``python -m edge_agent.outbox --journal J --hall H --agent A --url U --token T``:
    send the journal to the center until stopped, or with --until-idle until it is all sent.
    """
    p = argparse.ArgumentParser(prog="python -m edge_agent.outbox", description=main.__doc__)
    p.add_argument("--journal", required=True)
    p.add_argument("--hall", required=True)
    p.add_argument("--agent", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--retry-max", type=float, default=300.0)
    p.add_argument("--until-idle", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    center = CenterConfig(url=args.url, token=args.token, batch_records=args.batch,
                          timeout_s=args.timeout, retry_max_s=args.retry_max)
    try:
        outbox = Outbox(args.journal, args.hall, args.agent, center, clock=clock)
    except JournalError as exc:
        print(f"outbox: error: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    return run_until(outbox, lambda: args.until_idle and (
        outbox.broken or outbox.status()["backlog"] == 0))


def run_until(outbox: Outbox, done: Callable[[], bool]) -> int:
    """Run the outbox until ``done()`` or SIGINT / SIGTERM; 1 if the center refuses it."""
    outbox.start()
    try:
        while not done():
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        print(json.dumps(outbox.status()))
        outbox.stop()
    return 1 if outbox.broken else 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())

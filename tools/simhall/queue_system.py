"""The hall's queue system (叫号系统), simulated: it tells the agent's hook that a ticket was
called at a counter, with the holder's ID number (the agent hashes it at its door).

    POST /v1/queue   Authorization: Bearer <token>   {"counter", "type", "ticket", "applicant_id"}

Reports go out in order from one thread, so the simulator's loop never waits on HTTP; the
hook answers once the report is journaled (edge_agent/service/hook.py). Every answer is
counted; a refusal keeps its reason.

A report that got no answer (the agent down: connection refused or cut, or 503: the agent
did not answer in time) is sent again, as a real queue system's outbox does, after a back-off
(RETRY_FIRST_S doubling to RETRY_MAX_S, real seconds), until it is answered or GIVE_UP_S have
passed since its first try; the reports after it wait their turn, so the order holds. The
agent answers a retried ticket_called for its counter's current ticket without journaling it
again (edge_agent/service/core.py). A report refused outright (4xx) is not retried.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
from collections import Counter
from typing import Any

TIMEOUT_S = 10.0
RETRY_FIRST_S = 0.2
RETRY_MAX_S = 2.0
GIVE_UP_S = 60.0
RETRIED = (0, 503)  # no answer, or "not answered in time": the agent may be restarting


class QueueSystem:
    def __init__(self, host: str, port: int, token: str, give_up_s: float = GIVE_UP_S) -> None:
        self.host = host
        self.port = port
        self._token = token
        self.give_up_s = give_up_s
        self.retries = 0  # reports sent again
        self.retried: Counter[str] = Counter()  # first failure that made a report retried
        self._todo: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.answers: Counter[str] = Counter()  # "ok", or the status and reason refused
        self.refusals: list[tuple[dict[str, Any], str]] = []  # without the ID numbers
        self._thread = threading.Thread(target=self._run, name="queue-system", daemon=True)
        self._thread.start()

    def call(self, counter: str, ticket: str, applicant_id: str | None) -> None:
        report: dict[str, Any] = {"counter": counter, "type": "ticket_called", "ticket": ticket}
        if applicant_id:
            report["applicant_id"] = applicant_id
        self._todo.put(report)

    def pending(self) -> int:
        return self._todo.qsize()

    def close(self) -> None:
        self._todo.put(None)
        self._thread.join(self.give_up_s + TIMEOUT_S * 2)

    def _run(self) -> None:
        while (report := self._todo.get()) is not None:
            status, answer = self._deliver(report)
            self._count(report, status, answer)

    def _deliver(self, report: dict[str, Any]) -> tuple[int, str]:
        """Send until answered, or given up on (GIVE_UP_S after the first try)."""
        give_up = time.monotonic() + self.give_up_s
        wait = RETRY_FIRST_S
        while True:
            status, answer = self._once(report)
            if status not in RETRIED or time.monotonic() + wait > give_up:
                return status, answer
            if wait == RETRY_FIRST_S:
                self.retried[f"{status or 'unreachable'}"] += 1
            time.sleep(wait)
            self.retries += 1
            wait = min(wait * 2, RETRY_MAX_S)

    def _once(self, report: dict[str, Any]) -> tuple[int, str]:
        # A connection a report: a kept-alive one the server has closed meanwhile
        # would fail a report that was never sent.
        conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)
        try:
            return self._post(conn, report)
        except (OSError, http.client.HTTPException) as exc:
            return 0, f"no answer: {exc}"
        finally:
            conn.close()

    def _post(self, conn: http.client.HTTPConnection, report: dict[str, Any]) -> tuple[int, str]:
        body = json.dumps(report).encode()
        conn.request("POST", "/v1/queue", body, {"Authorization": f"Bearer {self._token}",
                                                 "Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")

    def _count(self, report: dict[str, Any], status: int, answer: str) -> None:
        if status == 200:
            self.answers["ok"] += 1
            return
        self.answers[f"{status or 'unreachable'}"] += 1
        shown = {k: v for k, v in report.items() if k != "applicant_id"}
        self.refusals.append((shown, answer[:200]))

"""The hall's queue system (叫号系统), simulated: it tells the agent's hook that a ticket was
called at a counter, with the holder's ID number (the agent hashes it at its door).

    POST /v1/queue   Authorization: Bearer <token>   {"counter", "type", "ticket", "applicant_id"}

Reports go out in order from one thread, so the simulator's loop never waits on HTTP; the
hook answers once the report is journaled (edge_agent/service/hook.py). Every answer is
counted; a refusal keeps its reason. A report is never retried: a real queue system that
got no answer does not call the same ticket twice either.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
from collections import Counter
from typing import Any

TIMEOUT_S = 10.0


class QueueSystem:
    def __init__(self, host: str, port: int, token: str) -> None:
        self.host = host
        self.port = port
        self._token = token
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
        self._thread.join(TIMEOUT_S * 2)

    def _run(self) -> None:
        while (report := self._todo.get()) is not None:
            # A connection a report: a kept-alive one the server has closed meanwhile
            # would fail a report that was never sent.
            conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT_S)
            try:
                status, answer = self._post(conn, report)
            except (OSError, http.client.HTTPException) as exc:
                status, answer = 0, f"no answer: {exc}"
            finally:
                conn.close()
            self._count(report, status, answer)

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

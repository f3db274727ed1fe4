"""The queue-system hook: the hall's queue system tells the agent a ticket was called at a
counter, or its service finished, a staff member logged in or out at a counter (工号登录), or
the counter paused or resumed (暂停). The core turns each into the rules engine's event, as it
does a badge swipe or a staff keypad's key.

    POST /v1/queue   Authorization: Bearer <token>   body: a report (queue_report.py)
    GET  /v1/health  no token: 200 {"ok": true} while the hook runs

A report is answered only once the core has journaled it (or refused it), so a 200 means
recorded: 200 {"ok": true}; 409 / 422 {"ok": false, "error": reason} when the core refused it;
503 when the core did not answer in time (the report is still on the inbox and may yet be
journaled). Refusals at the door: 401 token, 404 path, 405 method, 411 no Content-Length,
413 body too large, 400 a bad body (the QueueReportError's message). Each refusal is counted by
reason; the first of each reason from each client is logged (later ones only counted, so a
misconfigured queue system cannot flood the log). The applicant's ID number is hashed by
parse_report and never logged.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Collection
from http import HTTPStatus
from http.client import responses
from typing import Any, ClassVar

from edge_agent.service.http_common import (
    BodyError,
    Handler,
    HttpService,
    loggable_path,
    scrub,
)
from edge_agent.service.inputs import Inbox
from edge_agent.service.queue_report import MAX_BODY, QueueReportError, parse_report

log = logging.getLogger("edge_agent.hook")

ANSWER_TIMEOUT_S = 5.0
MAX_WAITING = 64  # reports waiting for the core at once; more get 503 at once
MAX_LOGGED = 10_000  # (reason, client) pairs remembered for logging once
_CONFLICT = ("conflict", "duplicate")


def refusal_status(reason: str) -> int:
    """The core's refusal as an HTTP status: 409 when the reason starts with "conflict" or
    "duplicate" (the report clashes with what is recorded), 422 for anything else."""
    return (HTTPStatus.CONFLICT if reason.lower().startswith(_CONFLICT)
            else HTTPStatus.UNPROCESSABLE_ENTITY)


class _Answer:
    """The `done` callback given to the core: the first call counts, later ones are ignored."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.ok = False
        self.reason = ""

    def __call__(self, ok: bool, reason: str) -> None:
        if not self._event.is_set():
            self.ok, self.reason = ok, reason
            self._event.set()

    def wait(self, timeout_s: float) -> bool:
        return self._event.wait(timeout_s)


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: int
    reason: str = ""  # the counted key of a refusal
    message: str = ""


ACCEPTED = Outcome(HTTPStatus.OK)


class QueueHook:
    """The hook's HTTP server. `counters` are the hall's counter ids; `now_us` the agent
    clock, read when a report arrives."""

    name = "queue hook"

    def __init__(self, listen: str, token: str, salt: str, counters: Collection[str],
                 inbox: Inbox, now_us: Callable[[], int], *,
                 answer_timeout_s: float = ANSWER_TIMEOUT_S, read_timeout_s: float = 10.0,
                 max_waiting: int = MAX_WAITING, staff: Collection[str] = ()) -> None:
        """`staff`: the hall's staff ids, which staff_login / staff_logout may name."""
        if not token:
            raise ValueError("the queue hook needs a token ([hook] token)")
        if not salt:
            raise ValueError("the queue hook needs a salt for ID numbers ([hook] salt)")
        self._expected = f"Bearer {token}".encode()
        self._salt = salt
        self._counters = frozenset(counters)
        self._staff = frozenset(staff)
        self._logged: set[tuple[str, str]] = set()
        self._inbox = inbox
        self._now_us = now_us
        self._answer_timeout_s = answer_timeout_s
        self._slots = threading.BoundedSemaphore(max_waiting)
        self._lock = threading.Lock()
        self._accepted = 0
        self._waiting = 0
        self._refused: Counter[str] = Counter()
        handler = type("QueueHookHandler", (_HookHandler,), {"hook": self})
        self._service = HttpService(self.name, listen, handler, log, read_timeout_s)

    @property
    def address(self) -> tuple[str, int]:
        return self._service.address

    def start(self) -> None:
        self._service.start()

    def stop(self) -> None:
        self._service.stop()

    def health(self) -> dict[str, Any]:
        host, port = self.address
        with self._lock:
            return {"listen": f"{host}:{port}", "running": self._service.server is not None,
                    "accepted": self._accepted, "waiting": self._waiting,
                    "refused": dict(sorted(self._refused.items()))}

    def authorized(self, header: str | None) -> bool:
        given = (header or "").strip().encode("latin-1", "replace")
        return hmac.compare_digest(given, self._expected)

    def submit(self, body: bytes) -> Outcome:
        """Parse a report, hand it to the core, wait for its answer."""
        try:
            report = parse_report(body, self._salt, self._counters, self._now_us(),
                                  self._staff)
        except QueueReportError as exc:
            return Outcome(HTTPStatus.BAD_REQUEST, "bad_report", str(exc))
        if not self._slots.acquire(blocking=False):
            return Outcome(HTTPStatus.SERVICE_UNAVAILABLE, "busy",
                           "too many reports waiting for the agent; retry shortly")
        try:
            answer = _Answer()
            try:
                self._inbox.put_nowait(dataclasses.replace(report, done=answer))
            except queue.Full:
                return Outcome(HTTPStatus.SERVICE_UNAVAILABLE, "inbox_full",
                               "the agent's inbox is full; retry shortly")
            if not self._wait(answer):
                return Outcome(HTTPStatus.SERVICE_UNAVAILABLE, "no_answer",
                               f"the agent did not answer within {self._answer_timeout_s:g} s;"
                               " the report may still be recorded")
        finally:
            self._slots.release()
        if not answer.ok:
            status = refusal_status(answer.reason)
            key = "conflict" if status == HTTPStatus.CONFLICT else "refused"
            return Outcome(status, key, answer.reason or "refused by the agent")
        with self._lock:
            self._accepted += 1
        log.debug("queue report %s %s %s recorded", report.counter, report.type,
                  scrub(report.ticket or "-"))
        return ACCEPTED

    def _wait(self, answer: _Answer) -> bool:
        with self._lock:
            self._waiting += 1
        try:
            return answer.wait(self._answer_timeout_s)
        finally:
            with self._lock:
                self._waiting -= 1

    def refused(self, client: str, outcome: Outcome) -> None:
        with self._lock:
            self._refused[outcome.reason] += 1
            first = (outcome.reason, client) not in self._logged
            if first and len(self._logged) < MAX_LOGGED:
                self._logged.add((outcome.reason, client))
        if first:
            log.warning("queue hook: refused %s (%d %s): %s (counted; further %s refusals "
                        "from it are only counted)", client, outcome.status, outcome.reason,
                        scrub(outcome.message), outcome.reason)


class _HookHandler(Handler):
    hook: ClassVar[QueueHook]
    _body_read = False

    def dispatch(self) -> None:
        self._body_read = False  # one handler serves every request of a keep-alive connection
        path = self.route_path()
        if path == "/v1/health":
            self._health()
        elif path != "/v1/queue":
            self._refuse(Outcome(HTTPStatus.NOT_FOUND, "not_found",
                                 f"no such path {loggable_path(self.path)!r}"))
        elif self.command != "POST":
            self._refuse(Outcome(HTTPStatus.METHOD_NOT_ALLOWED, "method",
                                 f"{self.command} {path}: use POST"), {"Allow": "POST"})
        elif not self.hook.authorized(self.headers.get("Authorization")):
            self._refuse(Outcome(HTTPStatus.UNAUTHORIZED, "unauthorized",
                                 "missing or wrong bearer token"),
                         {"WWW-Authenticate": 'Bearer realm="queue hook"'})
        else:
            self._report()

    def _health(self) -> None:
        if self.command in ("GET", "HEAD"):
            self.send_json(HTTPStatus.OK, {"ok": True})
        else:
            self._refuse(Outcome(HTTPStatus.METHOD_NOT_ALLOWED, "method",
                                 f"{self.command} /v1/health: use GET"), {"Allow": "GET"})

    def _report(self) -> None:
        try:
            body = self.read_body(MAX_BODY)
        except BodyError as exc:
            self._refuse(Outcome(exc.status, exc.reason, str(exc)))
            return
        self._body_read = True
        outcome = self.hook.submit(body)
        if outcome.status == HTTPStatus.OK:
            self.send_json(HTTPStatus.OK, {"ok": True})
        else:
            self._refuse(outcome)

    def _refuse(self, outcome: Outcome, headers: dict[str, str] | None = None) -> None:
        if not self._body_read and self._has_body():
            self.close_connection = True  # its body was not read: the stream is out of step
        self.hook.refused(self.client_address[0], outcome)
        self.send_json(outcome.status, {"ok": False, "error": outcome.message}, headers)

    def _has_body(self) -> bool:
        return (self.headers.get("Transfer-Encoding") is not None
                or self.headers.get("Content-Length", "0").strip() not in ("", "0"))

    def on_malformed(self, code: int) -> None:
        self.hook.refused(self.client_address[0],
                          Outcome(code, "malformed", responses.get(code, "malformed request")))

"""The queue-system hook on a real loopback port, with a small stand-in for the core: a thread
that reads the inbox and answers each report through its `done` callback."""

from __future__ import annotations

import http.client
import json
import logging
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent.service.hook import QueueHook, refusal_status
from edge_agent.service.http_common import Handler, HttpService, scrub
from edge_agent.service.inputs import Inbox, QueueReport, Stop
from edge_agent.service.queue_report import MAX_BODY, QueueReportError, id_hash, parse_report

TOKEN = "0123456789abcdef-queue"
SALT = "salt-for-the-test-hall"
COUNTERS = ("A01", "A02")
NOW_US = 1_795_400_102_000_000
ID_NUMBER = "31011519800101123X"
ID_DIGITS = "310115198001011"  # what any leak would contain, whatever its case or suffix
GOOD = {"counter": "A01", "type": "ticket_called", "ticket": "T001", "applicant_id": ID_NUMBER}

Verdict = tuple[bool, str] | None  # None: the core never answers


def accept(report: QueueReport) -> Verdict:
    return True, ""


class FakeCore:
    """Reads the inbox like the core loop does and answers each report with `decide`."""

    def __init__(self, inbox: Inbox, decide: Callable[[QueueReport], Verdict]) -> None:
        self.inbox = inbox
        self.decide = decide
        self.received: list[QueueReport] = []
        self._arrived = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not isinstance(item := self.inbox.get(), Stop):
            assert isinstance(item, QueueReport) and item.done is not None
            self.received.append(item)
            self._arrived.set()
            verdict = self.decide(item)
            if verdict is not None:
                item.done(*verdict)

    def first(self) -> QueueReport:
        """The first report, once it has arrived."""
        assert self._arrived.wait(30)
        return self.received[0]

    def stop(self) -> None:
        self.inbox.put(Stop())
        self._thread.join()


@contextmanager
def running_hook(decide: Callable[[QueueReport], Verdict] = accept, **options: Any
                 ) -> Iterator[tuple[QueueHook, FakeCore]]:
    inbox: Inbox = queue.Queue()
    hook = QueueHook("127.0.0.1:0", TOKEN, SALT, COUNTERS, inbox, lambda: NOW_US, **options)
    core = FakeCore(inbox, decide)
    hook.start()
    try:
        yield hook, core
    finally:
        hook.stop()
        core.stop()


@pytest.fixture
def hook() -> Iterator[tuple[QueueHook, FakeCore]]:
    with running_hook() as running:
        yield running


def connect(hook: QueueHook) -> http.client.HTTPConnection:
    host, port = hook.address
    return http.client.HTTPConnection(host, port, timeout=10)


def request(conn: http.client.HTTPConnection, body: bytes | dict[str, Any] | None = None,
            token: str | None = TOKEN, path: str = "/v1/queue", method: str = "POST",
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any], Any]:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    conn.request(method, path, body=data, headers=all_headers)
    answer = conn.getresponse()
    raw = answer.read()
    return answer.status, (json.loads(raw) if raw else {}), answer.headers


def post(hook: QueueHook, body: bytes | dict[str, Any] | None = None, **kw: Any
         ) -> tuple[int, dict[str, Any], Any]:
    conn = connect(hook)
    try:
        return request(conn, body, **kw)
    finally:
        conn.close()


def raw_exchange(hook: QueueHook, data: bytes, shut_write: bool = False) -> bytes:
    """Send bytes as they are and read the answer until the server closes."""
    with socket.create_connection(hook.address, timeout=10) as s:
        s.sendall(data)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# --- a good report ----------------------------------------------------------------------


def test_a_good_report_reaches_the_core_with_the_salted_hash_and_is_answered_200(
        hook: tuple[QueueHook, FakeCore]) -> None:
    server, core = hook
    status, answer, _ = post(server, GOOD)
    assert (status, answer) == (200, {"ok": True})
    (report,) = core.received
    assert report == QueueReport(counter="A01", type="ticket_called", t_us=NOW_US,
                                 ticket="T001", applicant=id_hash(SALT, ID_NUMBER))
    assert ID_DIGITS not in repr(report)
    assert server.health()["accepted"] == 1
    assert server.health()["refused"] == {}


def test_a_service_done_without_applicant(hook: tuple[QueueHook, FakeCore]) -> None:
    server, core = hook
    assert post(server, {"counter": "A02", "type": "service_done"})[0] == 200
    assert core.received[0] == QueueReport(counter="A02", type="service_done", t_us=NOW_US)


def test_a_service_done_may_name_its_ticket_and_a_bad_one_is_refused(
        hook: tuple[QueueHook, FakeCore]) -> None:
    server, core = hook
    assert post(server, {"counter": "A02", "type": "service_done", "ticket": "T7"})[0] == 200
    assert core.received[0].ticket == "T7"
    status, body, _ = post(server, {"counter": "A02", "type": "service_done", "ticket": ""})
    assert status == 400 and "ticket must be 1-32 printable characters" in str(body)
    assert len(core.received) == 1


def test_reports_on_one_kept_alive_connection_each_get_their_answer() -> None:
    with running_hook() as (server, core):
        conn = connect(server)
        assert request(conn, GOOD)[0] == 200
        assert request(conn, b"{")[0] == 400  # a body that was read: the connection stays
        assert request(conn, {**GOOD, "ticket": "T002"})[0] == 200
        conn.close()
    assert [r.ticket for r in core.received] == ["T001", "T002"]


def test_concurrent_reports_each_get_the_core_s_own_answer() -> None:
    def odd_refused(report: QueueReport) -> Verdict:
        number = int((report.ticket or "T0")[1:])
        return (True, "") if number % 2 == 0 else (False, f"ticket {report.ticket} refused")

    with running_hook(odd_refused) as (server, _), ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: post(server, {**GOOD, "ticket": f"T{n}"}), range(24)))
    for n, (status, body, _) in enumerate(answers):
        assert (status, body) == ((200, {"ok": True}) if n % 2 == 0 else
                                  (422, {"ok": False, "error": f"ticket T{n} refused"}))


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456", TOKEN + "x", TOKEN[:-1]])
def test_a_missing_or_wrong_token_is_401_and_nothing_reaches_the_core(
        hook: tuple[QueueHook, FakeCore], token: str | None) -> None:
    server, core = hook
    status, answer, headers = post(server, GOOD, token=token)
    assert status == 401 and answer == {"ok": False, "error": "missing or wrong bearer token"}
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert core.received == []
    assert server.health()["refused"] == {"unauthorized": 1}


@pytest.mark.parametrize("header", [f"Basic {TOKEN}", f"bearer{TOKEN}", "Bearer 令牌",
                                    f"Token {TOKEN}"])
def test_other_authorization_schemes_are_401(hook: tuple[QueueHook, FakeCore],
                                             header: str) -> None:
    server, core = hook
    status = post(server, GOOD, token=None,
                  headers={"Authorization": header.encode().decode("latin-1")})[0]
    assert status == 401 and core.received == []


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/v1/queue", "POST"), ("PUT", "/v1/queue", "POST"), ("DELETE", "/v1/queue", "POST"),
    ("POST", "/v1/health", "GET"),
])
def test_a_wrong_method_is_405_naming_the_allowed_one(hook: tuple[QueueHook, FakeCore],
                                                      method: str, path: str, allow: str) -> None:
    server, core = hook
    status, answer, headers = post(server, GOOD, method=method, path=path)
    assert status == 405 and headers["Allow"] == allow and answer["ok"] is False
    assert core.received == [] and server.health()["refused"] == {"method": 1}


@pytest.mark.parametrize("path", ["/", "/v1/queue/", "/v2/queue", "/v1/queues"])
def test_an_unknown_path_is_404(hook: tuple[QueueHook, FakeCore], path: str) -> None:
    server, core = hook
    status, answer, _ = post(server, GOOD, path=path)
    assert status == 404 and answer["ok"] is False
    assert core.received == [] and server.health()["refused"] == {"not_found": 1}


def test_a_body_over_the_limit_is_413_unread_and_the_connection_closed(
        hook: tuple[QueueHook, FakeCore]) -> None:
    server, core = hook
    body = json.dumps({**GOOD, "ticket": "T" + "x" * MAX_BODY}).encode()
    status, answer, headers = post(server, body)
    assert status == 413 and answer["error"] == f"body of {len(body)} bytes, at most {MAX_BODY}"
    assert headers["Connection"] == "close"
    assert core.received == [] and server.health()["refused"] == {"too_large": 1}


def test_a_body_with_no_length_is_411(hook: tuple[QueueHook, FakeCore]) -> None:
    server, _ = hook
    chunked = (b"POST /v1/queue HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
               + TOKEN.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    no_length = b"POST /v1/queue HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
    assert raw_exchange(server, chunked).startswith(b"HTTP/1.1 411 ")
    assert raw_exchange(server, no_length + b"\r\n\r\n").startswith(b"HTTP/1.1 411 ")
    assert server.health()["refused"] == {"length_required": 2}


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "12 34"])
def test_a_bad_content_length_is_400(hook: tuple[QueueHook, FakeCore], length: str) -> None:
    server, _ = hook
    head = (f"POST /v1/queue HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Length: {length}\r\n\r\n")
    assert raw_exchange(server, head.encode()).startswith(b"HTTP/1.1 400 ")
    assert server.health()["refused"] == {"bad_length": 1}


BAD_BODIES = [
    b"", b"{", b"[]", b'"A01"', b"\xff\xfe", json.dumps({**GOOD, "counter": "Z99"}).encode(),
    json.dumps({**GOOD, "type": "rating"}).encode(),
    json.dumps({"counter": "A01", "type": "ticket_called"}).encode(),
    json.dumps({**GOOD, "applicant_id": "310-115-19800101"}).encode(),
    json.dumps({**GOOD, "applicant_id": 310115198001011234}).encode(),
    json.dumps({**GOOD, "name": "张三"}).encode(),
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_bad_report_is_400_with_the_parser_s_message(hook: tuple[QueueHook, FakeCore],
                                                       body: bytes) -> None:
    server, core = hook
    with pytest.raises(QueueReportError) as expected:
        parse_report(body, SALT, COUNTERS, NOW_US)
    status, answer, _ = post(server, body)
    assert (status, answer) == (400, {"ok": False, "error": str(expected.value)})
    assert core.received == [] and server.health()["refused"] == {"bad_report": 1}


@pytest.mark.parametrize(("reason", "status"), [
    ("duplicate ticket T001 at A01", 409), ("conflict: time went backwards", 409),
    ("counter A01 is closed", 422), ("", 422),
])
def test_a_report_the_core_refuses_gets_its_reason(reason: str, status: int) -> None:
    with running_hook(lambda r: (False, reason)) as (server, core):
        answer = post(server, GOOD)
        assert answer[:2] == (status, {"ok": False, "error": reason or "refused by the agent"})
        assert len(core.received) == 1 and server.health()["accepted"] == 0
        key = "conflict" if status == 409 else "refused"
        assert server.health()["refused"] == {key: 1}


def test_refusal_status_reads_the_reason_s_first_word() -> None:
    assert refusal_status("Duplicate report") == 409
    assert refusal_status("unknown counter") == 422


def test_a_core_that_does_not_answer_in_time_is_503_and_a_late_answer_is_harmless() -> None:
    with running_hook(lambda r: None, answer_timeout_s=0.2) as (server, core):
        status, answer, _ = post(server, GOOD)
        assert status == 503 and "did not answer within 0.2 s" in answer["error"]
        done = core.first().done
        assert done is not None
        done(True, "")  # the core gets to it after the hook gave up
        assert server.health()["refused"] == {"no_answer": 1}
        assert server.health()["accepted"] == 0 and server.health()["waiting"] == 0


def test_more_waiting_reports_than_allowed_are_503_at_once() -> None:
    with running_hook(lambda r: None, max_waiting=1, answer_timeout_s=10) as (server, core):
        first = threading.Thread(target=post, args=(server, GOOD))
        first.start()
        report = core.first()  # the first report holds the only slot from here on
        status, answer, _ = post(server, {**GOOD, "ticket": "T002"})
        assert status == 503 and answer["error"].startswith("too many reports waiting")
        assert report.done is not None
        report.done(True, "")
        first.join()
    assert len(core.received) == 1


def test_a_full_inbox_is_503() -> None:
    inbox: Inbox = queue.Queue(maxsize=1)
    inbox.put(Stop())  # nobody reads this inbox
    hook = QueueHook("127.0.0.1:0", TOKEN, SALT, COUNTERS, inbox, lambda: NOW_US)
    hook.start()
    try:
        status, answer, _ = post(hook, GOOD)
    finally:
        hook.stop()
    assert status == 503 and "inbox is full" in answer["error"]
    assert hook.health()["refused"] == {"inbox_full": 1}


def test_a_malformed_request_is_refused_and_counted_without_a_traceback(
        hook: tuple[QueueHook, FakeCore], caplog: pytest.LogCaptureFixture) -> None:
    server, _ = hook
    with caplog.at_level(logging.DEBUG):
        # no readable version: http.server answers as HTTP/0.9 does, a bare body
        assert b"Error code: 400" in raw_exchange(server, f"GARBAGE{ID_NUMBER}\r\n".encode())
        assert b"Error code: 400" in raw_exchange(server, b"GET /v1/queue HTTP/1.1 x\r\n\r\n")
        assert raw_exchange(server, b"BREW /v1/queue HTTP/1.1\r\nHost: x\r\n\r\n").startswith(
            b"HTTP/1.1 501 ")
    assert server.health()["refused"] == {"malformed": 3}
    assert all(r.exc_info is None for r in caplog.records)
    assert ID_DIGITS not in caplog.text


def test_a_body_cut_short_is_400(hook: tuple[QueueHook, FakeCore]) -> None:
    server, core = hook
    head = (f"POST /v1/queue HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Length: 100\r\n\r\n{\"counter\"")
    assert raw_exchange(server, head.encode(), shut_write=True).startswith(b"HTTP/1.1 400 ")
    assert core.received == [] and server.health()["refused"] == {"short_body": 1}


def test_a_body_that_never_comes_is_408() -> None:
    with running_hook(read_timeout_s=0.2) as (server, core):
        head = (f"POST /v1/queue HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                "Content-Length: 100\r\n\r\n{")
        assert raw_exchange(server, head.encode()).startswith(b"HTTP/1.1 408 ")
        assert core.received == [] and server.health()["refused"] == {"body_timeout": 1}


# --- the log -----------------------------------------------------------------------------


def test_the_first_refusal_of_each_reason_from_a_client_is_logged_and_no_id_number_ever(
        caplog: pytest.LogCaptureFixture) -> None:
    unknown_counter = {**GOOD, "counter": ID_NUMBER}
    bad_id = {**GOOD, "applicant_id": ID_NUMBER + "-"}
    with caplog.at_level(logging.DEBUG), running_hook() as (server, _):
        assert post(server, GOOD)[0] == 200
        cases = [post(server, unknown_counter), post(server, bad_id),
                 post(server, GOOD, token="x"),
                 post(server, GOOD, path=f"/v1/queue?applicant_id={ID_NUMBER}", method="GET"),
                 post(server, GOOD, path=f"/x/{ID_NUMBER}"), post(server, GOOD, token="y")]
        refused = server.health()["refused"]
    assert [c[0] for c in cases] == [400, 400, 401, 405, 404, 401]
    assert refused == {"bad_report": 2, "unauthorized": 2, "method": 1, "not_found": 1}
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    # bad_report and unauthorized came twice each from 127.0.0.1: logged once, both counted
    assert len(warnings) == 4
    assert all("\n" not in r.getMessage() and r.exc_info is None for r in warnings)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert ID_DIGITS not in logged and ID_NUMBER.lower() not in logged.lower()


def test_scrub_masks_digit_runs_but_keeps_counter_and_ticket_ids() -> None:
    assert scrub(f"unknown counter '{ID_NUMBER}'") == "unknown counter '<digits>'"
    assert scrub("A01 T0012 refused") == "A01 T0012 refused"


# --- health, lifecycle, the server underneath ---------------------------------------------


def test_health_needs_no_token_and_refuses_other_methods(hook: tuple[QueueHook, FakeCore]
                                                        ) -> None:
    server, _ = hook
    assert post(server, None, token=None, method="GET", path="/v1/health")[:2] == (
        200, {"ok": True})
    assert post(server, None, token=None, method="HEAD", path="/v1/health")[0] == 200
    assert server.health()["running"] is True


def test_stop_closes_the_port_and_idle_kept_alive_connections() -> None:
    with running_hook() as (server, _):
        conn = connect(server)
        assert request(conn, GOOD)[0] == 200
        address = server.address
        server.stop()
        assert conn.sock is not None and conn.sock.recv(1) == b""  # cut by stop()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address, timeout=5)
        assert server.health()["running"] is False
        conn.close()


def test_bad_settings_are_refused_before_anything_runs() -> None:
    inbox: Inbox = queue.Queue()
    for token, salt, listen in [("", SALT, "127.0.0.1:0"), (TOKEN, "", "127.0.0.1:0"),
                                (TOKEN, SALT, "localhost"), (TOKEN, SALT, "h:99999")]:
        with pytest.raises(ValueError):
            QueueHook(listen, token, salt, COUNTERS, inbox, lambda: NOW_US)


def test_a_port_in_use_is_an_error_naming_the_address() -> None:
    with running_hook() as (server, _):
        host, port = server.address
        other = QueueHook(f"{host}:{port}", TOKEN, SALT, COUNTERS, queue.Queue(), lambda: 0)
        with pytest.raises(OSError, match=f"cannot listen on {host}:{port}"):
            other.start()


class _NoDelayEcho(Handler):
    def dispatch(self) -> None:
        flag = self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        self.send_json(200, {"nodelay": bool(flag)})


def test_accepted_sockets_have_tcp_nodelay() -> None:
    service = HttpService("echo", "127.0.0.1:0", _NoDelayEcho, logging.getLogger("test"))
    service.start()
    try:
        conn = http.client.HTTPConnection(*service.address, timeout=10)
        conn.request("GET", "/")
        assert json.loads(conn.getresponse().read()) == {"nodelay": True}
        conn.close()
    finally:
        service.stop()


# --- any body at all ----------------------------------------------------------------------


_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=40),
                    st.sampled_from([*COUNTERS, "ticket_called", "service_done", ID_NUMBER]))
_reports = st.dictionaries(st.sampled_from(["counter", "type", "ticket", "applicant_id", "x"]),
                           _values, max_size=5)


def test_any_body_gets_200_or_a_400_and_only_good_reports_reach_the_core() -> None:
    with running_hook() as (server, core):
        conn = connect(server)

        @settings(max_examples=150, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(st.one_of(st.binary(max_size=200), _reports.map(lambda d: json.dumps(d).encode())))
        def check(body: bytes) -> None:
            try:
                expected = parse_report(body, SALT, COUNTERS, NOW_US)
            except QueueReportError as exc:
                assert request(conn, body)[:2] == (400, {"ok": False, "error": str(exc)})
                return
            assert request(conn, body)[:2] == (200, {"ok": True})
            assert core.received[-1] == expected

        check()
        conn.close()

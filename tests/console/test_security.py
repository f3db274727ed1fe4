"""The console's access rules, each tried as an attacker would, on a real redis-server and
on fakeredis: who may log in, who may see which page, and that a refused change changes
nothing."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.testclient import TestClient

from server_stub.accounts import LOCK_S, Accounts
from server_stub.audit import AuditLog
from server_stub.followup import FollowUps
from server_stub.sessions import COOKIE, IDLE_S, MAX_S, Sessions
from server_stub.store import Store
from tests.center.fixtures import HALL, TOKEN, auth
from tests.console.fixtures import EVIL, PASSWORD, browser, csrf_of

MONTH = "/halls/test/months/2026-03"
CASE = 9  # the day's one 不满意 rating (journal record 9)


def test_wrong_password_shows_the_form_again_without_a_session(console: Starlette,
                                                                store: Store) -> None:
    b = browser(console)
    form = b.get("/login")
    r = b.post("/login", {"username": "boss", "password": "wrong", "csrf": csrf_of(form.text)})
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text and 'name="username"' in r.text
    assert COOKIE not in r.headers.get("set-cookie", "")
    assert b.get("/").status_code == 303  # still not logged in
    # an unknown name is answered with the same words
    r = b.post("/login", {"username": "nobody", "password": "x", "csrf": csrf_of(form.text)})
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    failed = [e for e in AuditLog(store.redis).recent(None) if e["action"] == "login_failed"]
    assert [e["who"] for e in failed] == ["nobody", "boss"]
    assert failed[1]["halls"] == ["test"] and failed[1]["address"]


def test_five_failures_lock_the_name_for_15_minutes(console: Starlette, store: Store) -> None:
    b = browser(console)
    form = b.get("/login")
    assert "15 分钟" in form.text and "15 minutes" in form.text  # the form says so
    token = csrf_of(form.text)
    for _ in range(5):
        r = b.post("/login", {"username": "boss", "password": "nope", "csrf": token})
        assert r.status_code == 401
    r = b.post("/login", {"username": "boss", "password": PASSWORD, "csrf": token})
    assert r.status_code == 401 and "锁定" in r.text
    assert COOKIE not in r.headers.get("set-cookie", "")
    assert LOCK_S - 5 <= Accounts(store.redis).locked_for("boss") <= LOCK_S
    assert browser(console).login("s1") == 303  # other names are not locked


def test_login_needs_the_login_forms_csrf_token(console: Starlette) -> None:
    b = browser(console)
    b.get("/login")
    r = b.post("/login", {"username": "boss", "password": PASSWORD})
    assert r.status_code == 403 and COOKIE not in r.headers.get("set-cookie", "")
    r = b.post("/login", {"username": "boss", "password": PASSWORD, "csrf": "forged"})
    assert r.status_code == 403


def test_session_cookie_flags(console: Starlette) -> None:
    for https in (False, True):
        b = browser(console, https=https)
        form = b.get("/login")
        r = b.post("/login", {"username": "boss", "password": PASSWORD,
                              "csrf": csrf_of(form.text)})
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(COOKIE))
        flags = {f.strip().lower() for f in cookie.split(";")[1:]}
        assert {"httponly", "samesite=strict", "path=/"} <= flags
        assert ("secure" in flags) == https
        assert not any(f.startswith(("max-age", "expires")) for f in flags)  # server-side


def test_a_change_without_the_right_csrf_token_is_refused_and_changes_nothing(
        console: Starlette, store: Store) -> None:
    b = browser(console, "boss")
    path = f"/halls/test/followups/{CASE}"
    fields = {"month": "2026-03", "contacted": "yes", "outcome": "resolved", "note": "x",
              "action": "close"}
    for token in (None, "wrong", browser(console, "otherboss").csrf):
        data = fields if token is None else {**fields, "csrf": token}
        r = b.post(path, data)
        assert r.status_code == 403, token
        assert "CSRF" in r.text
    assert FollowUps(store.redis).states(HALL) == {}
    assert b.post("/logout", {}).status_code == 403  # logging out is a change too
    assert b.get("/").status_code == 200
    r = b.post(path, {**fields, "csrf": b.csrf})
    assert r.status_code == 303
    assert FollowUps(store.redis).states(HALL)[CASE]["closed"] is True


def test_staff_see_only_their_own_page(console: Starlette) -> None:
    b = browser(console, "s1")
    assert b.get("/").headers["location"] == f"{MONTH}/staff/S1"
    own = b.get(f"{MONTH}/staff/S1")
    assert own.status_code == 200 and "data-seq=" in own.text
    for path in (f"{MONTH}/staff/S2", MONTH, f"{MONTH}/counters/A01",
                 f"{MONTH}/files/report.json", "/halls/test/followups", "/halls/test/repairs",
                 "/audit"):
        assert b.get(path).status_code == 403, path


def test_each_role_sees_only_its_pages(console: Starlette) -> None:
    allowed = {
        "boss": {MONTH, f"{MONTH}/staff/S2", f"{MONTH}/counters/A01", "/halls/test/followups",
                 "/halls/test/repairs", "/audit", f"{MONTH}/files/export.csv"},
        "tech": {"/halls/test/repairs"},
        "prov": {MONTH, f"{MONTH}/staff/S2", f"{MONTH}/counters/A01",
                 f"{MONTH}/files/export.csv", "/halls/other/months/2026-03"},
    }
    every = set().union(*allowed.values())
    for name, pages in allowed.items():
        b = browser(console, name)
        for path in sorted(every):
            status = b.get(path).status_code
            assert status == (200 if path in pages else 403), (name, path, status)


def test_another_halls_id_is_403_and_an_unknown_hall_404(console: Starlette) -> None:
    for name in ("boss", "tech"):
        b = browser(console, name)
        for page in ("/months/2026-03", "/repairs", "/followups"):
            assert b.get(f"/halls/other{page}").status_code == 403, (name, page)
            assert b.get(f"/halls/nowhere{page}").status_code == 404, (name, page)
    b = browser(console, "otherboss")
    assert b.get(MONTH).status_code == 403
    r = b.post(f"/halls/test/followups/{CASE}", {"csrf": b.csrf, "month": "2026-03",
                                                 "outcome": "resolved", "action": "close"})
    assert r.status_code == 403


def test_a_disabled_users_session_is_refused(console: Starlette, people: Accounts,
                                             store: Store) -> None:
    b = browser(console, "boss")
    assert b.get(MONTH).status_code == 200
    people.disable("boss")
    r = b.get(MONTH)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert browser(console).login("boss") == 401  # and cannot log in again
    c = browser(console, "tech")
    people.passwd("tech", "a brand new password")
    assert c.get("/halls/test/repairs").status_code == 303  # a new password ends sessions
    assert browser(console).login("tech", "a brand new password") == 303


def test_the_api_refuses_a_cookie_and_the_console_a_bearer_token(console: Starlette) -> None:
    b = browser(console, "boss")
    r = b.get("/v1/halls/test/months/2026-03/report.json")
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    api = TestClient(console)
    assert api.get("/v1/halls/test/months/2026-03/report.json",
                   headers=auth(TOKEN)).status_code == 200
    for path in ("/", MONTH, "/login"):
        r = api.get(path, headers=auth(TOKEN), follow_redirects=False)
        assert r.status_code == 401, path
        assert "takes no tokens" in r.text
    r = b.get(MONTH, headers=auth(TOKEN))  # not even beside a valid cookie
    assert r.status_code == 401


def test_logout_ends_the_session(console: Starlette) -> None:
    b = browser(console, "boss")
    cookie = b.client.cookies[COOKIE]
    r = b.post("/logout", {"csrf": b.csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    replay = TestClient(console, cookies={COOKIE: cookie})
    assert replay.get(MONTH, follow_redirects=False).status_code == 303


def test_html_in_a_staff_id_and_in_a_note_is_shown_escaped(console: Starlette) -> None:
    b = browser(console, "boss")
    month = b.get(MONTH).text
    assert EVIL not in month and "&lt;img src=x onerror=alert(1)&gt;" in month
    cases = b.get("/halls/test/followups?month=2026-03").text
    assert EVIL not in cases and "&lt;img" in cases  # the A03 case's staff
    note = "<script>alert('note')</script>"
    r = b.post(f"/halls/test/followups/{CASE}", {"csrf": b.csrf, "month": "2026-03",
                                                 "contacted": "yes", "outcome": "explained",
                                                 "note": note, "action": "save"})
    assert r.status_code == 303
    page = b.get("/halls/test/followups?month=2026-03").text
    assert note not in page and "&lt;script&gt;alert(&#x27;note&#x27;)&lt;/script&gt;" in page
    assert "script-src" not in page  # no script anywhere; CSP header says default-src 'self'
    assert "default-src 'self'" in b.get(MONTH).headers["content-security-policy"]


def test_the_audit_page_shows_a_managers_halls_only(console: Starlette) -> None:
    b = browser(console, "boss")
    b.get(f"{MONTH}/files/export.csv")
    b.post(f"/halls/test/followups/{CASE}", {"csrf": b.csrf, "month": "2026-03",
                                             "outcome": "resolved", "action": "close"})
    browser(console).login("s1", "wrong")
    page = b.get("/audit").text
    for action in ("login", "login_failed", "export", "followup"):
        assert f'data-action="{action}"' in page, action
    assert "2026-03 export.csv" in page and f"case {CASE}" in page
    other = browser(console, "otherboss").get("/audit").text
    assert 'data-action="export"' not in other and "boss" not in other.replace(
        "otherboss", "")


def test_sessions_expire_when_idle_and_after_12_hours(store: Store) -> None:
    now = [1_800_000_000.0]
    sessions = Sessions(store.redis, clock=lambda: now[0])
    cookie, session = sessions.create("boss", 0, "127.0.0.1")
    assert 0 < store.redis.ttl(session.key) <= IDLE_S  # Redis drops it when idle
    assert cookie not in session.key and store.redis.get(session.key) is not None
    now[0] += MAX_S - 1
    assert sessions.get(cookie) is not None
    now[0] += 2
    assert sessions.get(cookie) is None  # 12 hours after login, whatever happens
    assert store.redis.get(session.key) is None
    assert sessions.get("not-a-cookie") is None and sessions.get("x" * 500) is None

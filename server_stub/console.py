"""The center console: server-rendered pages for the halls' people (docs/center.md).

Who may see what (checked on every request, before anything is read):

- a session cookie, never a Bearer token (a request carrying ``Authorization`` is refused);
  the session's account must exist, be enabled and have the generation the session was
  made with (``user passwd`` and ``user disable`` end older sessions);
- the hall in the path: unknown -> 404, not one of the user's halls -> 403;
- the role: month reports (manager, viewer), a staff page (manager, viewer, and the staff
  member it belongs to), follow-up (manager), repair queue (it; manager reads it), rulings
  (it), filing a repair record (it), audit log (manager);
- every POST carries the session's CSRF token (403 and nothing changed without it); the
  login form has its own token (a cookie and a field that must match).
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qs, quote
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from edge_agent.journal import JournalError
from edge_agent.rules.calendar import from_us
from edge_agent.timeline import TimelineError
from server_stub import console_html as html
from server_stub import followup, month_files
from server_stub.accounts import AccountError, Accounts, User
from server_stub.audit import AuditLog
from server_stub.config import HallEntry
from server_stub.errors import Rejection
from server_stub.faults import parse_fault, parse_ruling
from server_stub.outages import with_counted_time
from server_stub.sessions import COOKIE, Session, Sessions

LOGIN_COOKIE = "console_login"
MAX_FORM = 64 << 10
HEADERS = {"Content-Security-Policy": "default-src 'self'; form-action 'self'; "
                                      "frame-ancestors 'none'; base-uri 'none'",
           "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "Cache-Control": "no-store"}


class PageRefused(Exception):
    """A console request refused with an HTML page: status, Chinese and English reason."""

    def __init__(self, status: int, zh: str, en: str) -> None:
        super().__init__(f"{status} {en}")
        self.status, self.zh, self.en = status, zh, en


class LoginNeeded(Exception):
    """No live session: the browser is sent to the login form."""


class Console:
    def __init__(self, center: Any, accounts: Accounts, sessions: Sessions,
                 audit: AuditLog, followups: followup.FollowUps,
                 clock: Callable[[], float] = time.time) -> None:
        self.center = center  # server_stub.app.Center: settings, store, report files
        self.accounts = accounts
        self.sessions = sessions
        self.audit = audit
        self.followups = followups
        self.clock = clock

    @property
    def halls(self) -> dict[str, HallEntry]:
        halls: dict[str, HallEntry] = self.center.settings.halls
        return halls

    # --- who is asking ------------------------------------------------------------------

    async def who(self, request: Request) -> tuple[User, Session]:
        if "authorization" in request.headers:
            raise PageRefused(401, "管理台不接受令牌，请登录", "the console takes no tokens: "
                                                           "log in with the form")
        session = await run_in_threadpool(self.sessions.get, request.cookies.get(COOKIE))
        if session is None:
            raise LoginNeeded()
        user = await run_in_threadpool(self.accounts.get, session.user)
        if user is None or user.disabled or user.generation != session.generation:
            await run_in_threadpool(self.sessions.end, session)
            raise LoginNeeded()
        request.state.console = (user, session)  # a refusal page still shows the menu
        return user, session

    def hall(self, user: User, hall: str) -> HallEntry:
        entry = self.halls.get(hall)
        if entry is None:
            raise PageRefused(404, f"没有大厅 {hall}", f"no hall {hall!r} here")
        if not user.may_see(hall):
            raise PageRefused(403, f"无权查看大厅 {hall}", f"not one of your halls: {hall!r}")
        return entry

    @staticmethod
    def need(user: User, *roles: str) -> None:
        if user.role not in roles:
            raise PageRefused(403, "你的角色无权查看此页", f"a {user.role} may not open this "
                                                        "page")

    async def form(self, request: Request, session: Session | None) -> dict[str, str]:
        """The urlencoded form, after its CSRF token was checked (403 without it)."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind not in ("application/x-www-form-urlencoded", ""):  # "": an empty form
            raise PageRefused(415, "表单格式不对", "send an urlencoded form")
        body = await _read(request, MAX_FORM)
        try:
            pairs = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=50)
        except (UnicodeDecodeError, ValueError):
            raise PageRefused(400, "表单无法读取", "the form cannot be read") from None
        fields = {k: v[0] for k, v in pairs.items()}
        wanted = session.csrf if session else request.cookies.get(LOGIN_COOKIE, "")
        token = fields.get("csrf", "")
        if not wanted or not token or not hmac.compare_digest(wanted.encode(), token.encode()):
            raise PageRefused(403, "表单已过期或来源不明（CSRF），请刷新页面后重试",
                              "missing or wrong CSRF token: reload the page and try again")
        return fields

    @staticmethod
    def address(request: Request) -> str:
        return request.client.host if request.client else "?"

    # --- login and logout ---------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        if "authorization" in request.headers:
            raise PageRefused(401, "管理台不接受令牌，请登录", "the console takes no tokens")
        token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
        return self._login_response(request, token, None, "", 200)

    def _login_response(self, request: Request, token: str, error: tuple[str, str] | None,
                        name: str, status: int) -> Response:
        response = _page(html.login_page(token, error, name), status)
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/login")
        return response

    async def login(self, request: Request) -> Response:
        fields = await self.form(request, None)
        name, password = fields.get("username", "").strip(), fields.get("password", "")
        token = request.cookies.get(LOGIN_COOKIE, "")
        address = self.address(request)
        try:
            user = await run_in_threadpool(self.accounts.login, name, password)
        except AccountError as exc:
            locked = str(exc) == "locked" or self.accounts.locked_for(name) > 0
            await run_in_threadpool(self.audit.add, name[:80], "login_failed",
                                    "locked" if locked else "wrong name or password", address,
                                    None, self._halls_of(name))
            error = (("该用户名已锁定 15 分钟（连续 5 次登录失败），请稍后再试",
                      "this name is locked for 15 minutes after 5 failed logins")
                     if locked else ("用户名或密码错误", "wrong user name or password"))
            return self._login_response(request, token, error, name, 401)
        old = await run_in_threadpool(self.sessions.get, request.cookies.get(COOKIE))
        if old is not None:
            await run_in_threadpool(self.sessions.end, old)
        cookie, _ = await run_in_threadpool(self.sessions.create, user.name, user.generation,
                                            address)
        await run_in_threadpool(self.audit.add, user.name, "login", f"role {user.role}",
                                address, None, user.halls)
        response = RedirectResponse("/", status_code=303, headers=HEADERS)
        response.set_cookie(COOKIE, cookie, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", path="/")
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    def _halls_of(self, name: str) -> tuple[str, ...]:
        """The halls whose managers see a failed login for this name (none: no account)."""
        user = self.accounts.get(name[:80]) if name else None
        return user.halls if user else ()

    async def logout(self, request: Request) -> Response:
        user, session = await self.who(request)
        await self.form(request, session)
        await run_in_threadpool(self.sessions.end, session)
        await run_in_threadpool(self.audit.add, user.name, "logout", "", self.address(request),
                                None, user.halls)
        response = RedirectResponse("/login", status_code=303, headers=HEADERS)
        response.delete_cookie(COOKIE, path="/")
        return response

    # --- pages --------------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        user, session = await self.who(request)
        if user.role == "staff":
            hall = user.halls[0]
            month = await run_in_threadpool(self._latest_month, hall)
            return RedirectResponse(f"/halls/{quote(hall)}/months/{month}/staff/"
                                    f"{quote(user.staff or '')}", status_code=303)
        shown = [h for h in self.halls if user.may_see(h)]
        halls = [await run_in_threadpool(self._today, self.halls[h]) for h in shown]
        month = halls[0]["month"] if halls else self._month_now(None)
        return _page(html.overview(user, halls, month, session.csrf))

    def _today(self, entry: HallEntry) -> dict[str, Any]:
        from server_stub.live import hall_today

        return hall_today(self.center.store, entry, self._month_now(entry))

    def _month_now(self, entry: HallEntry | None) -> str:
        tz = entry.config.tz if entry else UTC
        return f"{datetime.fromtimestamp(self.clock(), tz):%Y-%m}"

    def _latest_month(self, hall: str) -> str:
        entry = self.halls[hall]
        head = self.center.store.head(hall).seq
        rows = self.center.store.rows_at(hall, [head]) if head else {}
        if not rows:
            return self._month_now(entry)
        return f"{from_us(rows[head][0], entry.config.tz):%Y-%m}"

    async def month_pick(self, request: Request) -> Response:
        hall = request.path_params["hall"]
        month = request.query_params.get("month", "")
        return RedirectResponse(f"/halls/{quote(hall)}/months/{quote(month)}", status_code=303)

    async def month(self, request: Request) -> Response:
        user, session = await self.who(request)
        entry, month = self._hall_month(user, request)
        self.need(user, "manager", "viewer")
        replay = await run_in_threadpool(self._replay, entry, month)
        return _page(html.month_page(user, entry.id, month, replay.report,
                                     entry.config.counters, session.csrf))

    def _hall_month(self, user: User, request: Request) -> tuple[HallEntry, str]:
        entry = self.hall(user, request.path_params["hall"])
        month = request.path_params["month"]
        from server_stub.reports import ReportQueryError, check_month

        try:
            check_month(month)
        except ReportQueryError:
            raise PageRefused(404, "月份应为 YYYY-MM", f"month must be YYYY-MM, got "
                                                     f"{month[:20]!r}") from None
        return entry, month

    def _replay(self, entry: HallEntry, month: str) -> Any:
        from server_stub.reports import replay_month

        try:
            return replay_month(self.center.store.records(entry.id), entry.config, month)
        except (JournalError, TimelineError) as exc:
            raise PageRefused(422, "该大厅的日志无法重放", f"the hall's stored journal cannot "
                                                       f"be replayed: {exc}") from None

    async def unit(self, request: Request) -> Response:
        user, session = await self.who(request)
        entry, month = self._hall_month(user, request)
        plural, key = request.path_params["scope"], request.path_params["key"]
        if plural not in ("counters", "staff"):
            raise PageRefused(404, "没有这个页面", "no such page")
        scope = "counter" if plural == "counters" else "staff"
        if scope == "staff" and user.role == "staff":
            if key != user.staff:
                raise PageRefused(403, "只能查看本人的扣分", "a staff member sees only their "
                                                          "own page")
        else:
            self.need(user, "manager", "viewer")
        replay = await run_in_threadpool(self._replay, entry, month)
        row = replay.report[plural].get(key)
        if row is None:
            raise PageRefused(404, f"{month} 没有 {key} 的记录", f"no {scope} {key!r} in "
                                                              f"{month}")
        evidence = replay.evidence[plural].get(key, [])
        seqs = [int(e["seq"]) for e in evidence]
        records = await run_in_threadpool(self.center.store.rows_at, entry.id, seqs)
        return _page(html.unit_page(user, entry.id, month, scope, key, row, evidence, records,
                                    entry.config.tz, session.csrf))

    async def download(self, request: Request) -> Response:
        user, _ = await self.who(request)
        entry, month = self._hall_month(user, request)
        self.need(user, "manager", "viewer")
        name = request.path_params["name"]
        if name not in month_files.MEDIA_TYPES:
            raise PageRefused(404, f"没有文件 {name}", f"no file {name!r}")
        try:
            text = await run_in_threadpool(month_files.render, self.center.store, entry, month,
                                          name)
        except Rejection as exc:
            raise PageRefused(exc.status, "无法生成该文件", exc.reason) from None
        await run_in_threadpool(self.audit.add, user.name, "export", f"{month} {name}",
                                self.address(request), entry.id)
        return Response(text, media_type=month_files.MEDIA_TYPES[name], headers={
            **HEADERS, "Content-Disposition": f'attachment; filename="{entry.id}-{month}-'
                                              f'{name}"'})

    # --- follow-up ----------------------------------------------------------------------

    async def followups_page(self, request: Request) -> Response:
        user, session = await self.who(request)
        entry = self.hall(user, request.path_params["hall"])
        self.need(user, "manager")
        month = self._month_arg(request, entry)
        found = await run_in_threadpool(self._cases, entry, month)
        return _page(html.followups_page(user, entry.id, month, found, self._today_in(entry),
                                         entry.config.tz, session.csrf))

    def _month_arg(self, request: Request, entry: HallEntry) -> str:
        from server_stub.reports import ReportQueryError, check_month

        month = request.query_params.get("month") or self._latest_month(entry.id)
        try:
            return check_month(month)
        except ReportQueryError:
            raise PageRefused(422, "月份应为 YYYY-MM", "month must be YYYY-MM") from None

    def _today_in(self, entry: HallEntry) -> date:
        return datetime.fromtimestamp(self.clock(), entry.config.tz).date()

    def _cases(self, entry: HallEntry, month: str) -> list[followup.Case]:
        try:
            bad = followup.bad_ratings(self.center.store.records(entry.id), entry.config,
                                       month)
        except (JournalError, TimelineError) as exc:
            raise PageRefused(422, "该大厅的日志无法重放", f"the hall's stored journal cannot "
                                                       f"be replayed: {exc}") from None
        return followup.cases(bad, entry.config, entry.followup_working_days,
                              self.followups.states(entry.id))

    async def followup_post(self, request: Request) -> Response:
        user, session = await self.who(request)
        entry = self.hall(user, request.path_params["hall"])
        self.need(user, "manager")
        fields = await self.form(request, session)
        seq = request.path_params["seq"]
        month = fields.get("month", "")
        found = await run_in_threadpool(self._cases, entry, self._checked(month))
        case = next((c for c in found if c.seq == seq), None)
        if case is None:
            raise PageRefused(404, f"{month} 没有回访件 #{seq}", f"no case {seq} in {month}")
        try:
            state = followup.parse_form(fields)
            await run_in_threadpool(self.followups.record, entry.id, seq, state, user.name,
                                    self.clock())
        except followup.FollowUpError as exc:
            return _page(html.followups_page(user, entry.id, month, found,
                                             self._today_in(entry), entry.config.tz,
                                             session.csrf, str(exc)), 422)
        what = (f"case {seq} ({case.counter} {case.ticket}): "
                f"{'closed' if state['closed'] else 'saved'}, outcome {state['outcome'] or '-'}"
                f", contacted {'yes' if state['contacted'] else 'no'}")
        await run_in_threadpool(self.audit.add, user.name, "followup", what,
                                self.address(request), entry.id)
        return RedirectResponse(f"/halls/{quote(entry.id)}/followups?month={month}",
                                status_code=303, headers=HEADERS)

    @staticmethod
    def _checked(month: str) -> str:
        from server_stub.reports import ReportQueryError, check_month

        try:
            return check_month(month)
        except ReportQueryError:
            raise PageRefused(422, "月份应为 YYYY-MM", "month must be YYYY-MM") from None

    async def followups_csv(self, request: Request) -> Response:
        user, _ = await self.who(request)
        entry = self.hall(user, request.path_params["hall"])
        self.need(user, "manager")
        month = self._month_arg(request, entry)
        found = await run_in_threadpool(self._cases, entry, month)
        await run_in_threadpool(self.audit.add, user.name, "export",
                                f"{month} followups.csv", self.address(request), entry.id)
        text = followup.render_csv(found, entry.config, self._today_in(entry))
        return Response(text, media_type="text/csv; charset=utf-8", headers={
            **HEADERS, "Content-Disposition": f'attachment; filename="{entry.id}-{month}-'
                                              'followups.csv"'})

    # --- repair queue -------------------------------------------------------------------

    async def repairs(self, request: Request) -> Response:
        user, session = await self.who(request)
        entry = self.hall(user, request.path_params["hall"])
        self.need(user, "it", "manager")
        return await self._repairs_page(request, user, session, entry, "", 200)

    async def _repairs_page(self, request: Request, user: User, session: Session,
                            entry: HallEntry, error: str, status: int) -> Response:
        month = self._month_arg(request, entry)
        records, outages = await run_in_threadpool(self._repair_data, entry, month)
        return _page(html.repairs_page(user, entry.id, records, outages, entry.config.tz,
                                       session.csrf, error, can_rule=user.role == "it"),
                     status)

    def _repair_data(self, entry: HallEntry, month: str
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        records: list[dict[str, Any]] = self.center.store.fault_records(entry.id)
        records.reverse()  # the newest first: what IT works on
        replay = self._replay(entry, month)
        outages = sorted(({**e, "counter": counter}
                          for counter, items in replay.evidence["counters"].items()
                          for e in items if e["kind"] == "device_offline"),
                         key=lambda o: int(o["seq"]))
        timed = with_counted_time(outages, self.center.store.records(entry.id), entry.config)
        return records, timed

    async def rule(self, request: Request) -> Response:
        """A ruling from the repair queue's form, stored as the API stores one
        (``Store.add_ruling``): the agent pulls it and journals fault_verified."""
        user, session = await self.who(request)
        entry = self.hall(user, request.path_params["hall"])
        self.need(user, "it")
        fields = await self.form(request, session)
        doc = {k: fields.get(k, "") for k in ("device", "ref", "verdict", "note")}
        try:
            device, ref, verdict, note = parse_ruling(json.dumps(doc).encode())
            number = await run_in_threadpool(self.center.store.add_ruling, entry.id, device,
                                             ref, verdict, note, user.name)
        except Rejection as exc:
            return await self._repairs_page(request, user, session, entry, exc.reason,
                                            exc.status)
        await run_in_threadpool(self.audit.add, user.name, "ruling",
                                f"{device} {ref}: {verdict} (entry {number}) {note}",
                                self.address(request), entry.id)
        return RedirectResponse(f"/halls/{quote(entry.id)}/repairs", status_code=303,
                                headers=HEADERS)

    async def file_fault(self, request: Request) -> Response:
        """A repair record the IT department files itself (source ``it``), or a clear."""
        user, session = await self.who(request)
        entry = self.hall(user, request.path_params["hall"])
        self.need(user, "it")
        fields = await self.form(request, session)
        now = datetime.fromtimestamp(self.clock(), entry.config.tz).isoformat()
        doc = {"device": fields.get("device", ""), "active": fields.get("active") != "no",
               "t": now, "reason": fields.get("reason", "")}
        try:
            fault = parse_fault(json.dumps(doc).encode(), user.name, "it")
        except Rejection as exc:
            return await self._repairs_page(request, user, session, entry, exc.reason,
                                            exc.status)
        number = await run_in_threadpool(self.center.store.add_fault, entry.id, fault)
        what = "raised" if fault["active"] else "cleared"
        await run_in_threadpool(self.audit.add, user.name, "fault",
                                f"{fault['device']} {what} (center-{number}) {fault['reason']}",
                                self.address(request), entry.id)
        return RedirectResponse(f"/halls/{quote(entry.id)}/repairs", status_code=303,
                                headers=HEADERS)

    # --- audit --------------------------------------------------------------------------

    async def audit_page(self, request: Request) -> Response:
        user, session = await self.who(request)
        self.need(user, "manager")
        entries = await run_in_threadpool(self.audit.recent, set(user.halls))
        tz = self.halls[user.halls[0]].config.tz if user.halls else ZoneInfo("UTC")
        return _page(html.audit_page(user, entries, tz, session.csrf))

    async def css(self, request: Request) -> Response:
        return Response(html.CSS, media_type="text/css", headers={
            "Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})

    # --- refusals -----------------------------------------------------------------------

    async def refused(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageRefused)
        user, session = getattr(request.state, "console", (None, None))
        return _page(html.error_page(exc.status, exc.zh, exc.en, user,
                                     session.csrf if session else None), exc.status)

    async def to_login(self, request: Request, exc: Exception) -> Response:
        response = RedirectResponse("/login", status_code=303, headers=HEADERS)
        response.delete_cookie(COOKIE, path="/")
        return response


def _page(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=HEADERS)


async def _read(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PageRefused(413, "表单太大", f"the form is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def routes(console: Console) -> list[Route]:
    hall = "/halls/{hall}"
    month = hall + "/months/{month}"
    return [
        Route("/login", console.login_form, methods=["GET"]),
        Route("/login", console.login, methods=["POST"]),
        Route("/logout", console.logout, methods=["POST"]),
        Route("/", console.overview, methods=["GET"]),
        Route("/console.css", console.css, methods=["GET"]),
        Route("/audit", console.audit_page, methods=["GET"]),
        Route(hall + "/months", console.month_pick, methods=["GET"]),
        Route(month, console.month, methods=["GET"]),
        Route(month + "/files/{name}", console.download, methods=["GET"]),
        Route(month + "/{scope:str}/{key}", console.unit, methods=["GET"]),
        Route(hall + "/followups", console.followups_page, methods=["GET"]),
        Route(hall + "/followups.csv", console.followups_csv, methods=["GET"]),
        Route(hall + "/followups/{seq:int}", console.followup_post, methods=["POST"]),
        Route(hall + "/repairs", console.repairs, methods=["GET"]),
        Route(hall + "/repairs/rulings", console.rule, methods=["POST"]),
        Route(hall + "/repairs/faults", console.file_fault, methods=["POST"]),
    ]

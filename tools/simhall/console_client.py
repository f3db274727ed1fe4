"""A person at the center's console, as a program: logs in through the form and sends the
console's own forms (with their CSRF tokens), as a browser does. The simulated IT department
uses it to rule on repair records through the console's route, not the API.

    person = ConsolePerson("127.0.0.1", 8600)
    person.login("it", password)
    person.rule("qingpu", "P-A01", "center-1", "device_fault", "现场检查：电源损坏")
"""

from __future__ import annotations

import html
import http.client
import re
from http.cookies import SimpleCookie
from urllib.parse import quote, urlencode

_CSRF = re.compile(r'name="csrf" value="([^"]*)"')
_ROW = re.compile(r'<tr data-ref="([^"]*)" data-status="([^"]*)" data-device="([^"]*)" '
                  r'data-t-us="(\d+)">')


class ConsoleError(RuntimeError):
    """The console refused or answered something unexpected; the message says what, and
    ``status`` is the HTTP status (0: no page to send a form from)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ConsolePerson:
    def __init__(self, host: str, port: int, timeout_s: float = 30.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.cookies: dict[str, str] = {}

    def _call(self, method: str, path: str, form: dict[str, str] | None = None
              ) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body, headers)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            for value in resp.headers.get_all("Set-Cookie") or ():
                for name, morsel in SimpleCookie(value).items():
                    if morsel.value:
                        self.cookies[name] = morsel.value
                    else:
                        self.cookies.pop(name, None)
            return resp.status, dict(resp.headers), text
        finally:
            conn.close()

    def _csrf(self, path: str) -> str:
        status, _, text = self._call("GET", path)
        found = _CSRF.search(text)
        if status != 200 or found is None:
            raise ConsoleError(f"GET {path}: {status}, no form to send", status)
        return found[1]

    def login(self, name: str, password: str) -> None:
        token = self._csrf("/login")
        status, _, text = self._call("POST", "/login", {
            "username": name, "password": password, "csrf": token})
        if status != 303:
            raise ConsoleError(f"login as {name!r}: {status} {_reason(text)}", status)

    def repairs(self, hall: str) -> list[dict[str, str | int]]:
        """The repair queue's records as the page lists them: ref, device, t_us, status."""
        status, _, text = self._call("GET", f"/halls/{quote(hall)}/repairs")
        if status != 200:
            raise ConsoleError(f"GET the repair queue of {hall}: {status} {_reason(text)}",
                               status)
        return [{"ref": html.unescape(m[1]), "status": m[2], "device": html.unescape(m[3]),
                 "t_us": int(m[4])} for m in _ROW.finditer(text)]

    def rule(self, hall: str, device: str, ref: str, verdict: str, note: str = "") -> None:
        """The repair queue's ruling form (the IT department's)."""
        path = f"/halls/{quote(hall)}/repairs"
        token = self._csrf(path)
        status, _, text = self._call("POST", f"{path}/rulings", {
            "csrf": token, "device": device, "ref": ref, "verdict": verdict, "note": note})
        if status != 303:
            raise ConsoleError(f"ruling on {device} {ref}: {status} {_reason(text)}", status)

    def logout(self) -> None:
        token = self._csrf("/")
        self._call("POST", "/logout", {"csrf": token})


def _reason(page: str) -> str:
    found = re.search(r'class="error"[^>]*>(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>", " ", found[1]).strip() if found else page[:200]

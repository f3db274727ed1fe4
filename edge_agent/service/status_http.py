"""The live status page for the hall's managers, served by the agent ([agent] status_listen).

    GET /             the page (static/status.html, .js, .css: no external assets)
    GET /status.json  the core's snapshot, as the page fetches it every 2 s

`snapshot` is called on the server's threads: it must be safe to call from any thread.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from importlib import resources
from typing import Any, ClassVar

from edge_agent.service.http_common import Handler, HttpService

log = logging.getLogger("edge_agent.status")

Snapshot = Callable[[], dict[str, Any]]

_PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_FILES = {
    "/": ("status.html", "text/html; charset=utf-8"),
    "/index.html": ("status.html", "text/html; charset=utf-8"),
    "/status.js": ("status.js", "text/javascript; charset=utf-8"),
    "/status.css": ("status.css", "text/css; charset=utf-8"),
}


def static_file(name: str) -> bytes:
    return resources.files("edge_agent.service").joinpath("static", name).read_bytes()


def snapshot_json(snapshot: dict[str, Any]) -> bytes:
    """Strict JSON (no NaN: the browser's JSON.parse refuses it); ValueError/TypeError else."""
    return json.dumps(snapshot, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode()


class StatusServer:
    name = "status page"

    def __init__(self, listen: str, snapshot: Snapshot, *, read_timeout_s: float = 10.0) -> None:
        self._snapshot = snapshot
        self._files = {path: (static_file(name), kind) for path, (name, kind) in _FILES.items()}
        self._last_failure = ""
        self._lock = threading.Lock()
        handler = type("StatusHandler", (_StatusHandler,), {"status": self})
        self._service = HttpService(self.name, listen, handler, log, read_timeout_s)

    @property
    def address(self) -> tuple[str, int]:
        return self._service.address

    def start(self) -> None:
        self._service.start()

    def stop(self) -> None:
        self._service.stop()

    def file(self, path: str) -> tuple[bytes, str] | None:
        return self._files.get(path)

    def snapshot(self) -> bytes | None:
        """The snapshot as JSON, or None when the core's snapshot failed (logged once per
        distinct failure, not every 2 s while it lasts)."""
        try:
            body = snapshot_json(self._snapshot())
        except Exception as exc:  # the page must keep answering whatever the snapshot does
            self._note(f"{type(exc).__name__}: {exc}")
            return None
        self._note("")
        return body

    def _note(self, failure: str) -> None:
        with self._lock:
            changed, self._last_failure = failure != self._last_failure, failure
        if changed and failure:
            log.error("status snapshot failed: %s", failure)
        elif changed:
            log.info("status snapshot works again")


class _StatusHandler(Handler):
    status: ClassVar[StatusServer]

    def dispatch(self) -> None:
        path = self.route_path()
        reading = self.command in ("GET", "HEAD")
        if not reading:
            self.close_connection = True  # a body we do not read may follow
        if path != "/status.json" and self.status.file(path) is None:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": "not found"})
        elif not reading:
            self.send_json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "use GET"},
                           {"Allow": "GET, HEAD"})
        elif path == "/status.json":
            self._snapshot()
        else:
            self._file(path)

    def _file(self, path: str) -> None:
        found = self.status.file(path)
        assert found is not None
        body, kind = found
        headers = {"Content-Security-Policy": _PAGE_POLICY} if kind.startswith("text/html") else {}
        self.send_body(HTTPStatus.OK, body, kind, headers)

    def _snapshot(self) -> None:
        body = self.status.snapshot()
        if body is None:
            self.send_json(HTTPStatus.INTERNAL_SERVER_ERROR,
                           {"error": "the agent could not build its status; see its log"})
        else:
            self.send_body(HTTPStatus.OK, body, "application/json; charset=utf-8")

"""The center's HTTP API (Starlette): ingest of journal batches, fault records and the IT
department's rulings on them, month reports; and the console for people
(``server_stub.console``) on the same server.

Every refusal is a :class:`Rejection`: a precise status with ``{"error", "reason", ...}``,
logged and counted (GET /v1/stats). The API of record is docs/center.md.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import redis
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server_stub import month_files
from server_stub.accounts import Accounts, Kdf
from server_stub.audit import AuditLog
from server_stub.auth import Caller, Tokens
from server_stub.batch import parse_batch
from server_stub.config import CenterSettings, HallEntry
from server_stub.console import Console, LoginNeeded, PageRefused
from server_stub.console import routes as console_routes
from server_stub.errors import Rejection
from server_stub.faults import parse_fault, parse_ruling
from server_stub.followup import FollowUps
from server_stub.sessions import Sessions
from server_stub.store import Store

log = logging.getLogger("server_stub")
MAX_FAULT_BODY = 64 << 10
FAULT_PAGE = 1000
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
Endpoint = Callable[[Request], Awaitable[Response]]


class Center:
    """The API's state: settings, tokens, the store and the rejection counts."""

    def __init__(self, settings: CenterSettings, store: Store) -> None:
        self.settings = settings
        self.tokens = Tokens(settings)
        self.store = store
        self.rejections: Counter[str] = Counter()
        self.batches = 0

    def caller_for(self, request: Request, hall: str, *, journal_write: bool = False,
                   ruling: bool = False) -> tuple[Caller, HallEntry]:
        caller = self.tokens.caller(request.headers.get("authorization"))
        return caller, self.tokens.hall_for(caller, hall, journal_write=journal_write,
                                            ruling=ruling)

    # --- endpoints ------------------------------------------------------------------------

    async def head(self, request: Request) -> Response:
        hall = request.path_params["hall"]
        self.caller_for(request, hall)
        head = await run_in_threadpool(self.store.head, hall)
        return JSONResponse(head.as_json(hall))

    async def post_batch(self, request: Request) -> Response:
        hall = request.path_params["hall"]
        self.caller_for(request, hall, journal_write=True)
        body = await read_body(request, self.settings.max_body_bytes)
        key = request.headers.get("idempotency-key")
        result = await run_in_threadpool(self._ingest, hall, body, key)
        return JSONResponse(result)

    def _ingest(self, hall: str, body: bytes, key: str | None) -> dict[str, Any]:
        batch = parse_batch(body, key, self.settings.max_batch_records)
        stored = self.store.append(hall, batch.agent, batch.records)
        self.batches += 1
        log.debug("hall %s: batch %s stored %d, already %d", hall, key, stored.stored,
                  stored.already)
        return {"stored": stored.stored, "already": stored.already, "seq": stored.head.seq,
                "hash": stored.head.hash.hex()}

    async def post_fault(self, request: Request) -> Response:
        hall = request.path_params["hall"]
        caller, _ = self.caller_for(request, hall)
        body = await read_body(request, MAX_FAULT_BODY)
        fault = parse_fault(body, caller.filed_by, caller.fault_source)
        ref = await run_in_threadpool(self.store.add_fault, hall, fault)
        log.info("hall %s: fault record %d filed by %s: %s %s", hall, ref, caller.describe(),
                 fault["device"], "raised" if fault["active"] else "cleared")
        return JSONResponse({"ref": ref}, status_code=201)

    async def post_ruling(self, request: Request) -> Response:
        hall = request.path_params["hall"]
        caller, _ = self.caller_for(request, hall, ruling=True)
        body = await read_body(request, MAX_FAULT_BODY)
        device, ref, verdict, note = parse_ruling(body)
        number = await run_in_threadpool(self._rule, hall, device, ref, verdict, note)
        log.info("hall %s: ruling %d by %s: %s %s is %s", hall, number, caller.describe(),
                 device, ref, verdict)
        return JSONResponse({"ref": number}, status_code=201)

    def _rule(self, hall: str, device: str, ref: str, verdict: str, note: str) -> int:
        try:
            return self.store.add_ruling(hall, device, ref, verdict, note, "it")
        except Rejection as exc:
            if exc.status != 404:
                raise
            owner = next((h for h in self.settings.halls
                          if h != hall and self.store.find_record(h, device, ref)), None)
            if owner is None:
                raise
            raise Rejection(403, "forbidden", f"ref: repair record {ref!r} of device "
                                              f"{device!r} is another hall's; rule on it "
                                              "with that hall's credential",
                            field="ref") from None

    async def repair_records(self, request: Request) -> Response:
        hall = request.path_params["hall"]
        _, entry = self.caller_for(request, hall)
        records = await run_in_threadpool(self.store.fault_records, hall,
                                          entry.config.rules.fault_verification)
        return JSONResponse({"hall": hall, "records": records})

    async def get_faults(self, request: Request) -> Response:
        hall = request.path_params["hall"]
        self.caller_for(request, hall)
        after = request.query_params.get("after", "0")
        if not after.isdigit() or len(after) > 15:
            raise Rejection(422, "schema", f"after: must be a record ref (0 or more), got "
                                           f"{after!r}", field="after")
        faults = await run_in_threadpool(self.store.faults, hall, int(after), FAULT_PAGE)
        return JSONResponse({"hall": hall, "faults": faults})

    async def month_file(self, request: Request) -> Response:
        hall, month, name = (request.path_params[k] for k in ("hall", "month", "name"))
        _, entry = self.caller_for(request, hall)
        if not _MONTH.fullmatch(month):
            raise Rejection(422, "schema", f"month: must be YYYY-MM, got {month!r}",
                            field="month")
        if name not in month_files.MEDIA_TYPES:
            known = ", ".join(month_files.MEDIA_TYPES)
            raise Rejection(404, "not_found", f"no {name!r}; one of {known}")
        text = await run_in_threadpool(month_files.render, self.store, entry, month, name)
        return Response(text, media_type=month_files.MEDIA_TYPES[name])

    async def stats(self, request: Request) -> Response:
        caller = self.tokens.caller(request.headers.get("authorization"))
        if caller.hall is not None:
            raise Rejection(403, "forbidden", "only the viewer token reads the center's stats")
        return JSONResponse({"batches": self.batches, "rejections": dict(self.rejections)})

    async def health(self, request: Request) -> Response:
        try:
            ok = await run_in_threadpool(self.store.ping)
        except redis.RedisError as exc:
            return JSONResponse({"ok": False, "redis": str(exc)}, status_code=503)
        return JSONResponse({"ok": ok, "redis": "ok"})

    # --- refusals -------------------------------------------------------------------------

    async def refused(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Rejection)
        self.rejections[f"{exc.status} {exc.error}"] += 1
        # A broken chain means a journal was changed after the fact: an error, not noise.
        level = logging.ERROR if exc.error == "chain" else logging.WARNING
        log.log(level, "refused %s %s: %d %s: %s", request.method, request.url.path,
                exc.status, exc.error, exc.reason)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    async def storage_down(self, request: Request, exc: Exception) -> Response:
        self.rejections["503 storage"] += 1
        log.error("%s %s: Redis failed: %s", request.method, request.url.path, exc)
        return JSONResponse({"error": "storage", "reason": f"storage unavailable: {exc}"},
                            status_code=503, headers={"Retry-After": "5"})


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused with 413 as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> Rejection:
    return Rejection(413, "too_large", f"the body has {size} bytes or more; at most {limit}",
                     limit=limit)


def create_app(settings: CenterSettings, store: Store, kdf: Kdf | None = None,
               clock: Callable[[], float] = time.time) -> Starlette:
    """The API (``/v1/...``, Bearer tokens) and the console (every other path, sessions).

    ``kdf``: the console's password hashing cost (tests lower it); ``clock``: its wall clock
    (follow-up due dates, sessions)."""
    center = Center(settings, store)
    console = Console(center, Accounts(store.redis, kdf), Sessions(store.redis, clock),
                      AuditLog(store.redis, clock), FollowUps(store.redis), clock)
    hall = "/v1/halls/{hall}"
    app = Starlette(routes=[*console_routes(console),
        Route(f"{hall}/head", center.head, methods=["GET"]),
        Route(f"{hall}/batches", center.post_batch, methods=["POST"]),
        Route(f"{hall}/faults", center.post_fault, methods=["POST"]),
        Route(f"{hall}/faults", center.get_faults, methods=["GET"]),
        Route(f"{hall}/rulings", center.post_ruling, methods=["POST"]),
        Route(f"{hall}/repairs", center.repair_records, methods=["GET"]),
        Route(hall + "/months/{month}/{name}", center.month_file, methods=["GET"]),
        Route("/v1/stats", center.stats, methods=["GET"]),
        Route("/healthz", center.health, methods=["GET"]),
    ], exception_handlers={Rejection: center.refused, redis.RedisError: center.storage_down,
                           PageRefused: console.refused, LoginNeeded: console.to_login})
    app.state.center = center
    return app

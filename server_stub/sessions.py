"""The console's sessions: server-side, in Redis, named by a random cookie.

The cookie holds 32 random bytes (URL-safe base64); Redis keeps only their SHA-256
(``center:{center}:session:<hex>``), so a copy of the database does not hold live cookies.
A session stores the user's name, the account's generation when it was made (a new password
or ``user disable`` raises it, which ends every older session), its CSRF token, when it began
and from which address. It expires after ``IDLE_S`` without a request (each request renews
it) and ``MAX_S`` after login whatever happens.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis

from server_stub.store import center_key

IDLE_S = 30 * 60
MAX_S = 12 * 3600
COOKIE = "console_session"


@dataclass(frozen=True, slots=True)
class Session:
    key: str  # the Redis key (the cookie's digest), never the cookie itself
    user: str
    generation: int
    csrf: str
    began: float
    address: str

    def csrf_ok(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf.encode(), (token or "").encode())


class Sessions:
    def __init__(self, client: redis.Redis, clock: Any = time.time) -> None:
        self.redis: Any = client
        self.clock = clock

    def create(self, user: str, generation: int, address: str) -> tuple[str, Session]:
        """A new session: the cookie value to send, and the session."""
        cookie = secrets.token_urlsafe(32)
        session = Session(_key(cookie), user, generation, secrets.token_urlsafe(32),
                          self.clock(), address)
        doc = {"user": user, "generation": generation, "csrf": session.csrf,
               "began": session.began, "address": address}
        self.redis.set(session.key, json.dumps(doc), ex=IDLE_S)
        return cookie, session

    def get(self, cookie: str | None) -> Session | None:
        """The live session the cookie names (renewed), or None."""
        if not cookie or len(cookie) > 100:
            return None
        key = _key(cookie)
        raw: bytes | None = self.redis.get(key)
        if raw is None:
            return None
        doc = json.loads(raw)
        if self.clock() - doc["began"] > MAX_S:
            self.redis.delete(key)
            return None
        self.redis.expire(key, IDLE_S)
        return Session(key, doc["user"], doc["generation"], doc["csrf"], doc["began"],
                       doc["address"])

    def end(self, session: Session) -> None:
        self.redis.delete(session.key)


def _key(cookie: str) -> str:
    return center_key("session:" + hashlib.sha256(cookie.encode()).hexdigest())

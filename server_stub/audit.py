"""The console's audit log: every login, failed login, logout, ruling, repair record filed,
follow-up and export.

An append-only Redis list (``center:{center}:audit``) of JSON entries ``{"t", "who",
"action", "hall", "what", "address"}``, oldest first, trimmed to the newest ``KEEP``.
Managers read the entries of their halls (and the logins of the people of their halls)
on the console's audit page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import redis

from server_stub.store import center_key

KEEP = 1_000_000
ACTIONS = ("login", "login_failed", "logout", "ruling", "fault", "followup", "export")


class AuditLog:
    def __init__(self, client: redis.Redis, clock: Any = time.time) -> None:
        self.redis: Any = client
        self.clock = clock

    def add(self, who: str, action: str, what: str, address: str, hall: str | None = None,
            halls: Iterable[str] = ()) -> None:
        """Append an entry; ``halls``: the halls whose managers see it (defaults to hall)."""
        seen = sorted({hall} if hall else set(halls))
        entry = {"t": self.clock(), "who": who, "action": action, "hall": hall,
                 "halls": seen, "what": what, "address": address}
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(center_key("audit"), json.dumps(entry, ensure_ascii=False))
            pipe.ltrim(center_key("audit"), -KEEP, -1)
            pipe.execute()

    def recent(self, halls: set[str] | None, limit: int = 500) -> list[dict[str, Any]]:
        """The newest entries first: of these halls (None: every entry)."""
        out: list[dict[str, Any]] = []
        end = -1
        chunk = 2000
        while len(out) < limit:
            rows: list[bytes] = self.redis.lrange(center_key("audit"), end - chunk + 1, end)
            for raw in reversed(rows):
                entry = json.loads(raw)
                if halls is None or halls & set(entry["halls"]):
                    out.append(entry)
            if len(rows) < chunk:
                break
            end -= chunk
        return out[:limit]

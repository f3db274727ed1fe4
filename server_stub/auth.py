"""Who is calling: a hall's agent (its token) or the viewer, and what each may touch.

A hall's token reads and writes its own hall only; the viewer's token reads every hall's
reports and may file fault records, but never writes journal batches.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from server_stub.config import CenterSettings, HallEntry, token_digest
from server_stub.errors import Rejection


@dataclass(frozen=True, slots=True)
class Caller:
    hall: str | None  # None: the viewer

    def describe(self) -> str:
        return "the viewer" if self.hall is None else f"hall {self.hall}'s agent"


class Tokens:
    def __init__(self, settings: CenterSettings) -> None:
        self.settings = settings
        self._halls = {h.token_sha256: h.id for h in settings.halls.values()}

    def caller(self, authorization: str | None) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Rejection(401, "unauthorized", "send the header 'Authorization: Bearer TOKEN'")
        digest = token_digest(token.strip())
        hall = self._halls.get(digest)
        if hall is not None:
            return Caller(hall)
        viewer = self.settings.viewer_sha256
        if viewer is not None and hmac.compare_digest(digest, viewer):
            return Caller(None)
        raise Rejection(401, "unauthorized", "unknown token")

    def hall_for(self, caller: Caller, hall: str, *, journal_write: bool = False) -> HallEntry:
        """The hall a caller may act on, or a 403 / 404 saying why not."""
        if caller.hall is not None and caller.hall != hall:
            raise Rejection(403, "forbidden", f"this token belongs to hall {caller.hall!r}; it "
                                              f"may not act on hall {hall!r}")
        if caller.hall is None and journal_write:
            raise Rejection(403, "forbidden", "the viewer token may not write journal batches")
        entry = self.settings.halls.get(hall)
        if entry is None:
            raise Rejection(404, "unknown_hall", f"no hall {hall!r} is configured here")
        return entry

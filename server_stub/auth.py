"""Who is calling: a hall's agent, its IT department, or the viewer, and what each may touch.

A hall's token reads and writes its own hall only. The IT department's credential
(信息技术科, ``it_token_sha256``) acts on its own hall only: it files repair records and rules
on them, reads the hall's records and reports, and never writes journal batches. The
viewer's token reads every hall's reports and may file fault records, but never writes
journal batches and never rules.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

from server_stub.config import CenterSettings, HallEntry, token_digest
from server_stub.errors import Rejection

Role = Literal["agent", "it", "viewer"]


@dataclass(frozen=True, slots=True)
class Caller:
    hall: str | None  # None: the viewer
    role: Role = "agent"

    def describe(self) -> str:
        if self.hall is None:
            return "the viewer"
        return f"hall {self.hall}'s IT department" if self.role == "it" \
            else f"hall {self.hall}'s agent"

    @property
    def fault_source(self) -> str:
        """The `source` of a fault record this caller files (RULES.md §3): the IT
        department's own records start verified; a hall's or the viewer's is a call logged
        at the center on staff's behalf."""
        return "it" if self.role == "it" else "staff"

    @property
    def filed_by(self) -> str:
        return {"agent": "hall", "it": "it", "viewer": "viewer"}[self.role]


class Tokens:
    def __init__(self, settings: CenterSettings) -> None:
        self.settings = settings
        self._callers = {h.token_sha256: Caller(h.id) for h in settings.halls.values()}
        self._callers.update({h.it_token_sha256: Caller(h.id, "it")
                              for h in settings.halls.values() if h.it_token_sha256})

    def caller(self, authorization: str | None) -> Caller:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Rejection(401, "unauthorized", "send the header 'Authorization: Bearer TOKEN'")
        digest = token_digest(token.strip())
        known = self._callers.get(digest)
        if known is not None:
            return known
        viewer = self.settings.viewer_sha256
        if viewer is not None and hmac.compare_digest(digest, viewer):
            return Caller(None, "viewer")
        raise Rejection(401, "unauthorized", "unknown token")

    def hall_for(self, caller: Caller, hall: str, *, journal_write: bool = False,
                 ruling: bool = False) -> HallEntry:
        """The hall a caller may act on, or a 403 / 404 saying why not."""
        if caller.hall is not None and caller.hall != hall:
            raise Rejection(403, "forbidden", f"this token belongs to hall {caller.hall!r}; it "
                                              f"may not act on hall {hall!r}")
        if journal_write and caller.role != "agent":
            raise Rejection(403, "forbidden", f"{caller.describe()} may not write journal "
                                              "batches (only the hall's agent token)")
        if ruling and caller.role != "it":
            raise Rejection(403, "forbidden", f"{caller.describe()} may not rule on repair "
                                              "records (only the hall's IT department "
                                              "credential, it_token_sha256)")
        entry = self.settings.halls.get(hall)
        if entry is None:
            raise Rejection(404, "unknown_hall", f"no hall {hall!r} is configured here")
        return entry

"""A request the center refuses: the HTTP status, a short error name and the reason."""

from __future__ import annotations

from typing import Any


class Rejection(Exception):
    """Refused with ``status`` and the JSON body ``{"error": error, "reason": reason, **extra}``."""

    def __init__(self, status: int, error: str, reason: str, **extra: Any) -> None:
        super().__init__(f"{status} {error}: {reason}")
        self.status = status
        self.error = error
        self.reason = reason
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "reason": self.reason, **self.extra}


def schema_error(field: str, reason: str) -> Rejection:
    return Rejection(422, "schema", f"{field}: {reason}", field=field)

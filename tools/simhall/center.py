"""The center of a simulated hall: its center.toml, and what the simulator asks it.

The center (`python -m server_stub serve`, docs/center.md) serves one hall, the simulator's,
whose agent's token is the run's seeded secret; the rules it scores with are the agent's own
hall file. Questions go through its HTTP API with that token (the head, a month's report);
the stored records themselves are read from its Redis store (the API has no way to list
them), with the center's own `Store` so they are decoded as the center decodes them.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from edge_agent.journal import Record
from server_stub.config import token_digest
from server_stub.store import Store

REGION_CODE = "310118"  # any six digits: the export is not part of a simulated run


class CenterError(RuntimeError):
    """The center answered something else than expected; the message says what."""


# The IT department's console account in a simulated hall (it rules through the console).
IT_USER = "it"


def add_console_user(center_toml: Path, redis_url: str, name: str, role: str, hall: str,
                     password: str) -> None:
    """A console account, made with the user command as an operator does (the password on
    standard input, never in argv)."""
    proc = subprocess.run([sys.executable, "-m", "server_stub", "user", "add", name, "--role",
                           role, "--hall", hall, "--config", str(center_toml), "--redis",
                           redis_url], input=password + "\n", text=True, capture_output=True,
                          check=False)
    if proc.returncode != 0:
        raise CenterError(f"user add {name}: {proc.stderr.strip()}")


def write_config(path: Path, hall_id: str, token: str, hall_file: Path,
                 it_token: str = "") -> Path:
    """The center's configuration for the one hall (its agent's token kept as a digest, and
    its IT department's, which rules on repair records: it_department.py)."""
    it = f'it_token_sha256 = "{token_digest(it_token)}"\n' if it_token else ""
    text = (f"# The simulated hall's center, written by tools/sim; regenerated each run.\n"
            f"[halls.{hall_id}]\n"
            f'token_sha256 = "{token_digest(token)}"\n{it}'
            f"config = {json.dumps(str(hall_file.absolute()))}\n"
            f'region_code = "{REGION_CODE}"\n')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class CenterClient:
    host: str
    port: int
    hall: str
    token: str

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request("GET", path, headers={"Authorization": f"Bearer {self.token}"})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def json(self, path: str) -> dict[str, Any]:
        status, body = self.get(path)
        if status != 200:
            raise CenterError(f"GET {path}: {status} {body[:300]!r}")
        doc: dict[str, Any] = json.loads(body)
        return doc

    def head(self) -> int:
        """The seq of the last record the center holds."""
        seq: int = self.json(f"/v1/halls/{self.hall}/head")["seq"]
        return seq

    def report_path(self, month: str, name: str = "report.json") -> str:
        return f"/v1/halls/{self.hall}/months/{month}/{name}"

    def report(self, month: str) -> dict[str, Any]:
        return self.json(self.report_path(month))

    def wait_head(self, seq: int, timeout_s: float) -> bool:
        """Until the center holds record `seq` (real time, bounded); False if it does not."""
        end = time.monotonic() + timeout_s
        while True:
            try:
                if self.head() >= seq:
                    return True
            except (OSError, http.client.HTTPException, CenterError):
                pass  # the center is restarting: ask again
            if time.monotonic() > end:
                return False
            time.sleep(0.2)


def stored_records(redis_port: int, hall: str) -> Iterator[Record]:
    """Every record the center's store holds for the hall, in order, as the center reads
    them."""
    client = redis.Redis(host="127.0.0.1", port=redis_port)
    try:
        yield from Store(client).records(hall)
    finally:
        client.close()


def report_differences(agent: list[dict[str, Any]], center: list[dict[str, Any]]) -> list[str]:
    """Where the center's month reports differ from the agent's replay of its journal (the
    whole documents are compared, as tests/outbox/test_outage.py does; each differing
    counter, staff member or top-level field is named). Empty when they are equal."""
    if len(agent) != len(center):
        return [f"{len(agent)} agent reports but {len(center)} from the center"]
    diffs: list[str] = []
    for a, c in zip(agent, center, strict=True):
        if a == c:
            continue
        month = a.get("month", "?")
        for key in sorted(set(a) | set(c)):
            if key in ("counters", "staff"):
                rows_a, rows_c = a.get(key, {}), c.get(key, {})
                diffs += [f"{month} {key} {k}: agent {rows_a.get(k)} center {rows_c.get(k)}"
                          for k in sorted(set(rows_a) | set(rows_c))
                          if rows_a.get(k) != rows_c.get(k)]
            elif a.get(key) != c.get(key):
                diffs.append(f"{month} {key}: agent {a.get(key)!r} center {c.get(key)!r}")
    return diffs

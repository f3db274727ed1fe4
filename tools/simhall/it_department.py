"""The hall's simulated IT department (信息技术科): it rules on repair records at the center.

004 §17(二)1: a faulty pad is reported to the IT department, which keeps the repair record
and finds out whether the pad really was at fault (查实). The simulator's IT department does
what a person does through the center (docs/center.md): it reads the hall's repair records
(GET repairs, with its own credential), picks the device's report, and posts its ruling
(POST rulings). The verdict is the plan's: `device_fault` for a pad that really broke
(faulty_pad), `not_device_fault` for a pad a member of staff switched off (self_excuser).

A report reaches the center only once the agent's outbox has sent the journal record that
holds it, so a ruling waits (real time, bounded) for its report to be there. Each ruling is
done on its own thread and kept in `done` (or `failed`, with why), so the run can wait for
them all and then check the agent journaled each.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

RETRY_S = 0.2
PATIENCE_S = 60.0  # real seconds a ruling waits for its report to reach the center


@dataclass(frozen=True)
class Ruling:
    device: str
    ref: str  # the repair record ruled on
    verdict: str
    number: int  # the ruling's entry in the center's list


class ItDepartment:
    def __init__(self, host: str, port: int, hall: str, token: str,
                 patience_s: float = PATIENCE_S) -> None:
        self.host, self.port, self.hall, self.token = host, port, hall, token
        self.patience_s = patience_s
        self.done: list[Ruling] = []
        self.failed: list[tuple[str, str]] = []  # (device, why)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def rule(self, device: str, verdict: str, since_us: int, note: str = "") -> None:
        """Rule on the device's latest repair record filed at or after `since_us` (the
        report the plan made), once it is at the center; returns at once."""
        thread = threading.Thread(target=self._rule, args=(device, verdict, since_us, note),
                                  name=f"it-{device}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def finish(self, timeout_s: float) -> bool:
        """Wait for every ruling asked for; True if each was recorded at the center."""
        end = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, end - time.monotonic()))
        return not self.failed and all(not t.is_alive() for t in self._threads)

    def _rule(self, device: str, verdict: str, since_us: int, note: str) -> None:
        end = time.monotonic() + self.patience_s
        why = "its report never reached the center"
        while time.monotonic() < end:
            try:
                ref = self._report(device, since_us)
                if ref is not None:
                    status, answer = self._call("POST", "rulings", {
                        "device": device, "ref": ref, "verdict": verdict, "note": note})
                    if status == 201:
                        with self._lock:
                            self.done.append(Ruling(device, ref, verdict, answer["ref"]))
                        return
                    why = f"the center refused the ruling: {status} {answer}"
                    if status < 500:
                        break
            except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
                why = f"the center did not answer: {exc}"  # restarting: ask again
            time.sleep(RETRY_S)
        with self._lock:
            self.failed.append((device, why))

    def _report(self, device: str, since_us: int) -> str | None:
        status, answer = self._call("GET", "repairs")
        if status != 200:
            raise ValueError(f"GET repairs: {status} {answer}")
        mine = [r for r in answer["records"] if r["device"] == device and r["t_us"] >= since_us]
        return max(mine, key=lambda r: r["t_us"])["ref"] if mine else None

    def _call(self, method: str, what: str, body: dict[str, Any] | None = None
              ) -> tuple[int, Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            headers = {"Authorization": f"Bearer {self.token}"}
            data = None
            if body is not None:
                data = json.dumps(body, ensure_ascii=False).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, f"/v1/halls/{self.hall}/{what}", data, headers)
            reply = conn.getresponse()
            return reply.status, json.loads(reply.read())
        finally:
            conn.close()

"""The hall's simulated IT department (信息技术科): it rules on repair records at the center.

004 §17(二)1: a faulty pad is reported to the IT department, which keeps the repair record
and finds out whether the pad really was at fault (查实). The simulator's IT department does
what a person does through the center (docs/center.md): it logs in at the center's console
with its account, reads the hall's repair queue, picks the device's report and sends the
ruling form (`console` set: the demo's way); or, with its API credential, GET repairs and
POST rulings. The verdict is the plan's: `device_fault` for a pad that really broke
(faulty_pad), `not_device_fault` for a pad a member of staff switched off (self_excuser).

A report reaches the center only once the agent's outbox has sent the journal record that
holds it, so a ruling waits (real time) for its report to be there: a bounded patience, or
(`patience_s=None`, the simulator's way) as long as the run lasts, as a real IT department
rules whenever the report reaches it, however long the center was down (the fault run keeps
the center down for hours, and all of a day). Each ruling is
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

from tools.simhall.console_client import ConsoleError, ConsolePerson

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
                 patience_s: float | None = PATIENCE_S) -> None:
        self.host, self.port, self.hall, self.token = host, port, hall, token
        self.patience_s = patience_s
        self._deadline: float | None = None  # set by finish(): when every ruling stops trying
        # (user, password) of the IT department's console account: when set, it reads the
        # repair queue and rules through the console's pages and forms, as a person does
        # (console_client.py), instead of the rulings API with `token`.
        self.console: tuple[str, str] | None = None
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
        self._deadline = end
        for thread in self._threads:
            # a turn more: a thread past the deadline says so before it ends
            thread.join(max(0.0, end - time.monotonic()) + 2 * RETRY_S)
        return not self.failed and all(not t.is_alive() for t in self._threads)

    def _rule(self, device: str, verdict: str, since_us: int, note: str) -> None:
        if self.console is not None:
            self._rule_in_console(device, verdict, since_us, note, *self.console)
            return
        started = time.monotonic()
        why = "its report never reached the center"
        while self._trying(started):
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

    def _rule_in_console(self, device: str, verdict: str, since_us: int, note: str,
                         user: str, password: str) -> None:
        """Log in at the console, wait for the report in the repair queue, send the ruling
        form; the ruling's number is read back from the center's list (the API's GET)."""
        started = time.monotonic()
        why = "its report never reached the center"
        person = ConsolePerson(self.host, self.port)
        while self._trying(started):
            try:
                if not person.cookies.get("console_session"):
                    person.login(user, password)
                mine = [r for r in person.repairs(self.hall)
                        if r["device"] == device and int(r["t_us"]) >= since_us]
                if mine:
                    ref = str(max(mine, key=lambda r: int(r["t_us"]))["ref"])
                    person.rule(self.hall, device, ref, verdict, note)
                    with self._lock:
                        self.done.append(Ruling(device, ref, verdict, self._number(ref)))
                    return
            except ConsoleError as exc:
                why = f"the console refused: {exc}"
                if 400 <= exc.status < 500 and exc.status != 404:
                    break  # a refusal that asking again will not change (401, 403, 422)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                why = f"the center did not answer: {exc}"  # restarting: ask again
            time.sleep(RETRY_S)
        with self._lock:
            self.failed.append((device, why))

    def _trying(self, started: float) -> bool:
        now = time.monotonic()
        if self._deadline is not None and now > self._deadline:
            return False
        return self.patience_s is None or now < started + self.patience_s

    def _number(self, ref: str) -> int:
        """The number of the latest ruling on `ref` in the center's list."""
        status, answer = self._call("GET", "faults?after=0")
        numbers = [f["ref"] for f in answer.get("faults", ()) if f.get("fault_ref") == ref]
        return int(numbers[-1]) if status == 200 and numbers else 0

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

"""The live status snapshot: what the status page and `python -m edge_agent status` show.

Built by the core loop once a tick and published as a new dict (a reference swap), so the
status server's threads read it without locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from edge_agent.config import HallConfig
from edge_agent.journal import Journal
from edge_agent.rules.engine import RulesEngine
from edge_agent.rules.model import UNVERIFIED
from edge_agent.service.clock import TimeSource
from edge_agent.service.devices import DeviceTable
from edge_agent.service.inputs import HealthReporting, Inbox
from edge_agent.service.pad_view import PadView
from edge_agent.timeline import format_time
from edge_agent.today import Today


class CenterStatus(Protocol):
    """The uplink's side of the page (edge_agent.outbox.Outbox)."""

    def status(self) -> dict[str, Any]: ...


class StatusSource(Protocol):
    """What the snapshot reads: the core's parts, read-only (the core loop's thread builds
    the snapshot, so nothing here is read while it changes)."""

    @property
    def config(self) -> HallConfig: ...
    @property
    def clock(self) -> TimeSource: ...
    @property
    def boot(self) -> int: ...
    @property
    def started_us(self) -> int: ...
    @property
    def journal(self) -> Journal: ...
    @property
    def inbox(self) -> Inbox: ...
    @property
    def outbox(self) -> CenterStatus | None: ...
    @property
    def parts_health(self) -> Mapping[str, HealthReporting]: ...
    @property
    def engine(self) -> RulesEngine: ...
    @property
    def today(self) -> Today: ...
    @property
    def devices(self) -> DeviceTable: ...
    @property
    def pad_view(self) -> PadView: ...

    def rejections(self) -> dict[str, int]: ...


def snapshot(core: StatusSource) -> dict[str, Any]:
    now = core.clock.now_us()
    tz = core.config.tz
    return {
        "hall": {"id": core.config.hall_id, "now": format_time(now, tz), "now_us": now},
        "agent": {
            "boot": core.boot,
            "started": format_time(core.started_us, tz),
            "uptime_s": round((now - core.started_us) / 1e6, 1),
            "journal": {"path": str(core.journal.path), "seq": core.journal.head_seq,
                        "head": core.journal.head.hex()},
            "inbox": core.inbox.qsize(),
            "center": core.outbox.status() if core.outbox is not None else None,
        },
        "counters": [_counter(core, cid, name) for cid, name in _counters(core).items()],
        "links": {name: part.health() for name, part in core.parts_health.items()},
        "rejections": core.rejections(),
        "pad_font": core.pad_view.status(),
    }


def _repairs(core: StatusSource, device: str) -> list[dict[str, Any]]:
    """The device's repair records (报修) still in hand: open (not cleared), or cleared but
    not yet ruled on by the IT department (RULES.md §3)."""
    state = core.engine.devices.get(device)
    if state is None:
        return []
    held = {id(r): r for r in (*state.open_reports, *state.by_ref.values())}
    shown = [r for r in held.values() if r.open or r.status == UNVERIFIED]
    return [{"ref": r.ref, "source": r.source, "status": r.status, "open": r.open,
             "t": format_time(r.t, core.config.tz)} for r in sorted(shown, key=lambda r: r.t)]


def _counters(core: StatusSource) -> dict[str, str]:
    out = dict(core.config.counters)
    for d in core.config.devices.values():
        out.setdefault(d.counter, d.counter)
    for cid in core.engine.counters:
        out.setdefault(cid, cid)
    return dict(sorted(out.items()))


def _counter(core: StatusSource, cid: str, name: str) -> dict[str, Any]:
    tz = core.config.tz
    state = core.engine.counters.get(cid)
    staff = state.staff if state else None
    member = core.config.service.staff.get(staff or "")
    day = core.today.counter(cid)
    devices = []
    for d in core.config.devices.values():
        if d.counter != cid:
            continue
        h = core.devices.health[d.id]
        devices.append({"id": d.id, "kind": d.kind, "link": d.link, "online": h.online,
                        "last_seen": format_time(h.last_seen, tz) if h.last_seen else None,
                        "fault": h.fault, "link_lost": h.link_lost,
                        "pixels": core.pad_view.image(d, state.screen if state else "closed",
                                                      staff),
                        "repairs": _repairs(core, d.id)})
    return {
        "id": cid, "name": name,
        "state": state.state if state else "closed",
        "screen": state.screen if state else "closed",
        "staff": staff, "staff_name": member.name if member else staff,
        "devices": devices,
        "today": day.figures(),
        "incidents": [dict(i, pending=bool(i.get("pending"))) for i in day.incidents],
    }

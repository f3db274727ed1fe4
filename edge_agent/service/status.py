"""The live status snapshot: what the status page and `python -m edge_agent status` show.

Built by the core loop once a tick and published as a new dict (a reference swap), so the
status server's threads read it without locks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edge_agent.timeline import format_time

if TYPE_CHECKING:
    from edge_agent.service.core import Core


def snapshot(core: Core) -> dict[str, Any]:
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
        "links": {name: part.health()
                  for name, part in (*core.links.items(), *core.servers.items())},
        "rejections": core.rejections(),
    }


def _counters(core: Core) -> dict[str, str]:
    out = dict(core.config.counters)
    for d in core.config.devices.values():
        out.setdefault(d.counter, d.counter)
    for cid in core.engine.counters:
        out.setdefault(cid, cid)
    return dict(sorted(out.items()))


def _counter(core: Core, cid: str, name: str) -> dict[str, Any]:
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
                        "fault": h.fault, "link_lost": h.link_lost})
    return {
        "id": cid, "name": name,
        "state": state.state if state else "closed",
        "screen": state.screen if state else "closed",
        "staff": staff, "staff_name": member.name if member else staff,
        "devices": devices,
        "today": day.figures(),
        "incidents": [dict(i, pending=bool(i.get("pending"))) for i in day.incidents],
    }

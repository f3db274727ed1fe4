"""``python -m edge_agent status [--config HALL.toml | --url URL] [--json]``: the running
agent's live status (its /status.json) as a compact terminal table.

Exit status: 0 shown; 1 the agent is unreachable (or answered something that is not a
status); 2 bad configuration or options.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from edge_agent.config import ConfigError, load_config
from edge_agent.service.http_common import parse_listen
from edge_agent.service_config import AgentConfig

UNREACHABLE = 1
BAD_INPUT = 2
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_COLUMNS = ("COUNTER", "NAME", "STATE", "STAFF", "DEVICES", "TICKETS", "RATINGS", "ACCEPTED",
            "RATE", "INCIDENTS")
_NUMERIC = frozenset(range(5, 9))  # right-aligned columns: TICKETS .. RATE


class StatusUnreachable(Exception):
    """No status from the agent; the message says why."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group()
    source.add_argument("--config", metavar="HALL.toml",
                        help="the hall file: ask the agent at its [agent] status_listen")
    source.add_argument("--url", metavar="URL",
                        help="the status page's address (default http://"
                             f"{AgentConfig().status_listen}/)")
    p.add_argument("--json", action="store_true", help="print the status JSON as it is")
    p.add_argument("--timeout", type=float, default=5.0, metavar="S",
                   help="seconds to wait for the agent (default 5)")


def status_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m edge_agent status",
                                description="The running agent's live status.")
    add_arguments(p)
    try:
        args = p.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad option (2, argparse printed why)
        return exc.code if isinstance(exc.code, int) else BAD_INPUT
    return run(args)


def run(args: argparse.Namespace) -> int:
    try:
        url = status_url(args.config, args.url)
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc), BAD_INPUT)
    try:
        snapshot = fetch(url, args.timeout)
    except StatusUnreachable as exc:
        return _fail(f"agent unreachable at {url}: {exc}", UNREACHABLE)
    try:
        if args.json:
            print(json.dumps(snapshot, ensure_ascii=False, indent=1))
        else:
            print(render(snapshot), end="")
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (`| head`)
    return 0


def _fail(message: str, status: int) -> int:
    print(f"edge_agent: error: {message}", file=sys.stderr)
    return status


def status_url(config: str | None, url: str | None) -> str:
    """The /status.json address to ask; ConfigError or ValueError saying what is wrong."""
    if url is not None:
        return normal_url(url)
    listen = load_config(config).service.agent.status_listen if config else (
        AgentConfig().status_listen)
    if not listen:
        raise ConfigError(f"{config}: [agent] status_listen is \"\": the status page is off")
    host, port = parse_listen(listen)
    if host in ("0.0.0.0", "*"):
        host = "127.0.0.1"  # listening on every address: this machine's is one of them
    return f"http://{host}:{port}/status.json"


def normal_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--url {url!r}: expected http://HOST:PORT/ (the status page)")
    path = parts.path if parts.path not in ("", "/") else "/status.json"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def fetch(url: str, timeout_s: float) -> dict[str, Any]:
    # No proxy: the agent is on this machine or this hall's network, never behind a proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout_s) as answer:
            body = answer.read(16 * 1024 * 1024)
    except urllib.error.HTTPError as exc:
        raise StatusUnreachable(f"it answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise StatusUnreachable(_why(exc.reason)) from None
    except (OSError, ValueError) as exc:  # a timeout or reset while reading the answer
        raise StatusUnreachable(_why(exc)) from None
    try:
        snapshot = json.loads(body)
    except ValueError:
        raise StatusUnreachable("its answer is not JSON (is that the agent's status page?)") \
            from None
    if not isinstance(snapshot, dict):
        raise StatusUnreachable("its answer is not a status object (is that the agent's status "
                                "page?)")
    return snapshot


def _why(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is the agent running?)"
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


# --- the table -------------------------------------------------------------------------


def render(snapshot: dict[str, Any]) -> str:
    """The header figures, one line per counter, links and rejections. Tolerates missing or
    mistyped keys (shown as "-")."""
    counters = [c for c in _list(snapshot.get("counters")) if isinstance(c, dict)]
    rows = [list(_COLUMNS)] + [_counter_row(c) for c in counters]
    lines = [_header(snapshot), *_table(rows)]
    if not counters:
        lines.append("(no counters)")
    lines += _repairs_and_outages(counters)
    lines.append("links: " + _links(_dict(snapshot.get("links"))))
    lines.append("rejections: " + _counts(_dict(snapshot.get("rejections"))))
    return "\n".join(lines) + "\n"


def _header(snapshot: dict[str, Any]) -> str:
    hall, agent = _dict(snapshot.get("hall")), _dict(snapshot.get("agent"))
    now = _text(hall.get("now"))
    parts = [f"hall {_text(hall.get('id'))}", now.replace("T", " ")[:19] if now != "-" else now,
             f"up {_duration(agent.get('uptime_s'))}", f"boot {_text(agent.get('boot'))}",
             f"journal seq {_text(_dict(agent.get('journal')).get('seq'))}",
             f"inbox {_text(agent.get('inbox'))}", _center(agent.get("center"))]
    return " · ".join(parts)


def _center(center: Any) -> str:
    if not isinstance(center, dict):
        return "center off"
    text = (f"center backlog {_text(center.get('backlog'))} "
            f"(confirmed {_text(center.get('confirmed_seq'))})")
    if center.get("last_error"):
        text += f" error: {_text(center.get('last_error'))}"
    return text


def _counter_row(c: dict[str, Any]) -> list[str]:
    today = _dict(c.get("today"))
    staff = " ".join(_text(c.get(k)) for k in ("staff_name", "staff") if c.get(k))
    return [_text(c.get("id")), _text(c.get("name")), _text(c.get("state")), staff or "-",
            _devices(_list(c.get("devices"))), _text(today.get("tickets")),
            _text(today.get("ratings")), _text(today.get("accepted")), _rate(today.get("rate")),
            _incidents(_list(c.get("incidents")))]


def _devices(devices: list[Any]) -> str:
    states = [(_text(d.get("id")), _device_state(d)) for d in devices if isinstance(d, dict)]
    if not states:
        return "-"
    bad = [f"{name} {state}" for name, state in states if state != "ok"]
    return ", ".join(bad) if bad else f"{len(states)} ok"


def _device_state(d: dict[str, Any]) -> str:
    if d.get("fault"):
        return "fault"
    online = d.get("online")
    if online is not False and d.get("link_lost"):
        return "link lost"  # its link said it is gone; down once silent (core.py)
    return "ok" if online is True else "offline" if online is False else "unseen"


def _incidents(incidents: list[Any]) -> str:
    items = [i for i in incidents if isinstance(i, dict)]
    if not items:
        return "-"
    # A pending outage is deducted until the IT department rules (RULES.md §3).
    charged = sum(_number(i.get("penalty")) for i in items if not i.get("exempt"))
    return f"{len(items)} (-{charged:.1f})" if charged else str(len(items))


# A repair record's status and an outage's standing (RULES.md §3), as the hall reads them.
FAULT_STATUS = {"unverified": "待核实 unverified", "verified": "已查实 verified",
                "rejected": "非设备故障 rejected"}


def _repairs_and_outages(counters: list[dict[str, Any]]) -> list[str]:
    """Below the table: each pad's open repair records and each of today's outages with
    where the IT department's ruling left it."""
    lines = []
    for c in counters:
        cid = _text(c.get("id"))
        for d in _list(c.get("devices")):
            for r in _list(_dict(d).get("repairs")):
                r = _dict(r)
                lines.append(f"  {cid} {_text(d.get('id'))} repair {_text(r.get('ref'))} "
                             f"({_text(r.get('source'))}, {_clock(r.get('t'))}): "
                             f"{FAULT_STATUS.get(_text(r.get('status')), _text(r.get('status')))}")
        for i in _list(c.get("incidents")):
            i = _dict(i)
            if i.get("kind") == "device_offline":
                lines.append(f"  {cid} device_offline {_clock(i.get('t'))} "
                             f"{_text(i.get('device'))}: {_outage(i)}")
    return ["repairs and outages:", *lines] if lines else []


def _outage(i: dict[str, Any]) -> str:
    faults = [_dict(f) for f in _list(i.get("faults"))]
    if i.get("exempt"):
        standing = "已查实 exempt (verified device fault)"
    elif i.get("pending"):
        standing = "待核实 pending: deducted until the IT department rules"
    elif faults and all(f.get("status") == "rejected" for f in faults):
        standing = "非设备故障 deducted (not a device fault)"
    else:
        standing = "deducted (no fault report)"
    refs = ", ".join(f"{_text(f.get('ref'))} {_text(f.get('status'))}" for f in faults)
    return f"{standing} [{refs}]" if refs else standing


def _clock(value: Any) -> str:
    text = _text(value)
    return text[11:19] if len(text) >= 19 and text[10] == "T" else text


def _links(links: dict[str, Any]) -> str:
    out = []
    for name in sorted(links):
        link = _dict(links[name])
        up = link.get("open", link.get("connected"))
        out.append(f"{_text(name)} {'up' if up is True else 'down' if up is False else '?'}")
    return ", ".join(out) or "-"


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{_text(k)} {_text(counts[k])}" for k in sorted(counts)) or "none"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(_pad(cell, w, i in _NUMERIC) for i, (cell, w)
                      in enumerate(zip(row, widths, strict=True))).rstrip() for row in rows]


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    space = " " * (width - _width(text))
    return space + text if right else text + space


def _text(value: Any) -> str:
    """A value for the terminal: control characters (an escape sequence in a staff name from
    the config, say) shown as "?"."""
    if value is None or value == "":
        return "-"
    return _CONTROL.sub("?", str(value))


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not 0 <= seconds < 1e12:
        return "-"
    s = int(seconds)
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    return f"{d}d {h}h" if d else f"{h}h {m:02d}m" if h else f"{m}m {s % 60:02d}s"


def _rate(value: Any) -> str:
    number = _number(value, None)
    return "-" if number is None else f"{number * 100:.1f}%"


def _number(value: Any, default: float | None = 0.0) -> Any:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value == value
    return value if ok else default


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []

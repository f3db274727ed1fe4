"""`python -m edge_agent status` against a real status server on a loopback port."""

from __future__ import annotations

import copy
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.service.status_cli import render, status_main, status_url
from edge_agent.service.status_http import StatusServer
from tests.service.test_status_page import SNAPSHOT, serving
from tools.harness.ports import free_port

Run = tuple[int, str, str]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    capsys.readouterr()
    status = status_main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def base_url(server: StatusServer) -> str:
    host, port = server.address
    return f"http://{host}:{port}"


def columns(line: str) -> list[int]:
    """Display column where each cell of a table line starts (CJK characters are 2 wide)."""
    starts, col, previous = [], 0, " "
    for i, ch in enumerate(line):
        if ch != " " and previous == " " and (i < 2 or line[i - 2:i] == "  "):
            starts.append(col)
        col += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        previous = ch
    return starts


def test_the_table_has_the_header_figures_and_one_aligned_line_per_counter(
        capsys: pytest.CaptureFixture[str]) -> None:
    with serving(lambda: SNAPSHOT) as server:
        status, out, err = run(capsys, "--url", base_url(server))
    assert (status, err) == (0, "")
    header, titles, *rows = out.splitlines()
    assert header == ("hall qingpu-demo · 2026-11-23 10:15:02 · up 2h 15m · boot 7 · "
                      "journal seq 1234 · inbox 0 · center backlog 12 (confirmed 1222)")
    assert titles.split() == ["COUNTER", "NAME", "STATE", "STAFF", "DEVICES", "TICKETS",
                              "RATINGS", "ACCEPTED", "RATE", "INCIDENTS"]
    counters, rest = rows[:5], rows[5:]
    assert [r.split()[0] for r in counters] == ["A01", "A02", "A03", "B01", "B02"]
    assert re.fullmatch(r"A01 +不动产登记 1 +serving +张三 S01 +1 ok +12 +10 +9 +88\.9% +"
                        r"1 \(-1\.0\)", counters[0])
    # A03: an exempt outage (not counted), a listed pause, a pending incident (deducted
    # until ruled, RULES.md §3).
    assert re.search(r"paused +王五 S03 +A03-pad offline +5 +4 +3 +66\.7% +3 \(-1\.0\)$",
                     counters[2])
    assert re.search(r"idle +赵六 S04 +B01-pad fault .* - +1 \(-2\.5\)$", counters[3])
    assert re.search(r"closed +- +B02-pad unseen +0 +0 +0 +- +-$", counters[4])
    # columns line up on a terminal, where CJK characters take two cells
    assert all(columns(r)[:5] == columns(titles)[:5] for r in counters)
    assert rest == ["repairs and outages:",
                    "  A03 device_offline 09:58:42 A03-pad: 已查实 exempt (verified device fault)",
                    "links: mqtt up, serial:/dev/ttyACM0 up",
                    "rejections: bad_tag 3, replayed_seq 1"]


def test_a_pad_s_repair_records_and_its_outages_show_where_the_ruling_left_them() -> None:
    """RULES.md §3: 待核实 (deducted until ruled), 已查实 (exempt), 非设备故障 (deducted)."""
    def outage(t: str, ref: str, status: str, exempt: bool, pending: bool) -> dict[str, Any]:
        return {"t": f"2026-11-23T{t}+08:00", "kind": "device_offline", "staff": "S01",
                "penalty": 1.0, "exempt": exempt, "pending": pending, "device": "A01-pad",
                "faults": [{"ref": ref, "source": "staff", "status": status, "line": 3}]}

    snap = {"hall": {"id": "h"}, "agent": {}, "counters": [{
        "id": "A01", "state": "idle", "today": {},
        "devices": [{"id": "A01-pad", "online": False, "repairs": [
            {"ref": "A01-pad-20261123090500", "source": "staff", "status": "unverified",
             "t": "2026-11-23T09:05:00+08:00"}]}],
        "incidents": [outage("09:01:00", "A01-pad-20261123090500", "unverified", False, True),
                      outage("10:01:00", "A01-pad-20261123100500", "verified", True, False),
                      outage("11:01:00", "A01-pad-20261123110500", "rejected", False, False)]}]}
    lines = render(snap).splitlines()
    at = lines.index("repairs and outages:")
    assert lines[at + 1:at + 5] == [
        "  A01 A01-pad repair A01-pad-20261123090500 (staff, 09:05:00): 待核实 unverified",
        "  A01 device_offline 09:01:00 A01-pad: 待核实 pending: deducted until the IT "
        "department rules [A01-pad-20261123090500 unverified]",
        "  A01 device_offline 10:01:00 A01-pad: 已查实 exempt (verified device fault) "
        "[A01-pad-20261123100500 verified]",
        "  A01 device_offline 11:01:00 A01-pad: 非设备故障 deducted (not a device fault) "
        "[A01-pad-20261123110500 rejected]"]
    assert re.search(r"A01 .* 3 \(-2\.0\)$", lines[2])  # the pending one is deducted too


def test_json_prints_the_snapshot(capsys: pytest.CaptureFixture[str]) -> None:
    with serving(lambda: SNAPSHOT) as server:
        status, out, _ = run(capsys, "--url", base_url(server) + "/status.json", "--json")
    assert status == 0 and json.loads(out) == SNAPSHOT


def test_config_names_the_agent_s_status_address(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    with serving(lambda: SNAPSHOT) as server:
        host, port = server.address
        hall = tmp_path / "hall.toml"
        hall.write_text(f'[hall]\nid = "qingpu-demo"\n[agent]\nstatus_listen = "{host}:{port}"\n')
        status, out, _ = run(capsys, "--config", str(hall))
    assert status == 0 and out.startswith("hall qingpu-demo ·")


def test_an_agent_that_is_not_running_is_exit_1_with_a_clear_message(
        capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    status, out, err = run(capsys, "--url", f"http://127.0.0.1:{port}/")
    assert (status, out) == (1, "")
    assert err == (f"edge_agent: error: agent unreachable at http://127.0.0.1:{port}/status.json:"
                   " connection refused (is the agent running?)\n")


@pytest.mark.parametrize(("path", "why"), [
    ("/status.js", "its answer is not JSON"), ("/nope", "it answered HTTP 404 Not Found"),
])
def test_something_that_is_not_the_status_is_exit_1(capsys: pytest.CaptureFixture[str],
                                                    path: str, why: str) -> None:
    with serving(lambda: SNAPSHOT) as server:
        status, _, err = run(capsys, "--url", base_url(server) + path)
    assert status == 1 and why in err and "Traceback" not in err


def test_a_failing_agent_snapshot_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("no")

    with serving(broken) as server:
        status, _, err = run(capsys, "--url", base_url(server))
    assert status == 1 and "it answered HTTP 500" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["--config", "/nonexistent/hall.toml"], "cannot read"),
    (["--url", "ftp://x/"], "expected http://HOST:PORT/"),
    (["--url", "127.0.0.1:8480"], "expected http://HOST:PORT/"),
])
def test_bad_options_and_configs_are_exit_2(capsys: pytest.CaptureFixture[str],
                                            argv: list[str], message: str) -> None:
    status, _, err = run(capsys, *argv)
    assert status == 2 and message in err and "Traceback" not in err


def test_a_hall_with_the_status_page_off_is_exit_2(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    hall = tmp_path / "hall.toml"
    hall.write_text('[hall]\nid = "h"\n[agent]\nstatus_listen = ""\n')
    status, _, err = run(capsys, "--config", str(hall))
    assert status == 2 and "status page is off" in err
    hall.write_text('[hall]\nid = "h"\n[agent]\nstatus_port = 1\n')
    assert run(capsys, "--config", str(hall))[0] == 2


def test_usage_errors_are_exit_2_and_help_is_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--config", "a.toml", "--url", "http://x/")[0] == 2
    assert run(capsys, "--bogus")[0] == 2
    assert run(capsys, "--help")[0] == 0


def test_the_address_asked_for() -> None:
    assert status_url(None, None) == "http://127.0.0.1:8480/status.json"
    assert status_url(None, "http://pi.local:9000") == "http://pi.local:9000/status.json"
    assert status_url(None, "https://pi/agent/status.json") == "https://pi/agent/status.json"


def test_names_from_the_config_cannot_drive_the_terminal() -> None:
    snap = copy.deepcopy(SNAPSHOT)
    snap["counters"][0]["staff_name"] = "\x1b[2J\x1b]0;pwned\x07张三"
    out = render(snap)
    assert "\x1b" not in out and "\x07" not in out and "?[2J?]0;pwned?张三" in out


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=12)
_counter = st.fixed_dictionaries({}, optional={
    k: _json for k in ("id", "name", "state", "staff", "staff_name", "devices", "today",
                       "incidents")})
_snapshots = st.fixed_dictionaries({}, optional={
    "hall": _json | st.fixed_dictionaries({}, optional={"id": _json, "now": _json}),
    "agent": _json, "counters": st.lists(_counter | _json, max_size=3), "links": _json,
    "rejections": _json})


@settings(max_examples=200, deadline=None)
@given(_snapshots)
def test_any_status_document_renders_without_crashing(snapshot: dict[str, Any]) -> None:
    out = render(snapshot)
    assert out.endswith("\n")
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", out)


def test_a_pad_whose_link_reports_it_gone_shows_as_link_lost(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Not yet an outage (down once silent for device_timeout_s), but a technician sees it."""
    snapshot = copy.deepcopy(SNAPSHOT)
    pad = snapshot["counters"][0]["devices"][0]
    pad["link_lost"] = "last will"
    with serving(lambda: snapshot) as server:
        status, out, _ = run(capsys, "--url", base_url(server))
    assert status == 0
    row = out.splitlines()[2]
    assert f"{pad['id']} link lost" in row

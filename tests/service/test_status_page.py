"""The live status page: served by StatusServer on a real port, loaded in headless Chromium
(Debian's /usr/bin/chromium) to check what a hall manager sees, and over plain HTTP."""

from __future__ import annotations

import copy
import http.client
import itertools
import json
import logging
import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from edge_agent.service.status_http import StatusServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _device(did: str, online: bool | None, seen: str | None, fault: bool = False,
            kind: str = "pad", link: str = "usb") -> dict[str, Any]:
    return {"id": did, "kind": kind, "link": link, "online": online,
            "last_seen": seen and f"2026-11-23T{seen}+08:00", "fault": fault}


def _incident(t: str, kind: str, staff: str, penalty: float, exempt: bool = False,
              pending: bool = False) -> dict[str, Any]:
    return {"t": f"2026-11-23T{t}+08:00", "kind": kind, "staff": staff, "penalty": penalty,
            "exempt": exempt, "pending": pending}


def _today(tickets: int, ratings: int, accepted: int, satisfied: int) -> dict[str, Any]:
    rate = round(satisfied / accepted, 3) if accepted else None
    return {"tickets": tickets, "ratings": ratings, "accepted": accepted,
            "satisfied": satisfied, "rate": rate}


def _counter(cid: str, name: str, state: str, staff: str | None, staff_name: str | None,
             devices: list[dict[str, Any]], today: dict[str, Any],
             incidents: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": cid, "name": name, "state": state, "screen": state, "staff": staff,
            "staff_name": staff_name, "devices": devices, "today": today,
            "incidents": incidents}


SNAPSHOT: dict[str, Any] = {
    "hall": {"id": "qingpu-demo", "now": "2026-11-23T10:15:02+08:00",
             "now_us": 1_795_400_102_000_000},
    "agent": {"boot": 7, "started": "2026-11-23T08:00:00+08:00", "uptime_s": 8102.3,
              "journal": {"path": "/var/lib/window-eval/journal.sqlite", "seq": 1234,
                          "head": "ab12" * 16},
              "inbox": 0,
              "center": {"url": "https://center.example/", "backlog": 12,
                         "confirmed_seq": 1222, "last_error": None}},
    "counters": [
        _counter("A01", "不动产登记 1", "serving", "S01", "张三",
                 [_device("A01-pad", True, "10:15:00")], _today(12, 10, 9, 8),
                 [_incident("09:40:10", "not_prompted", "S01", 1.0)]),
        _counter("A02", "不动产登记 2", "invited", "S02", "李四",
                 [_device("A02-pad", True, "10:15:01", link="mqtt"),
                  _device("A02-sign", True, "10:14:58", kind="sign", link="mqtt")],
                 _today(8, 7, 7, 7), []),
        _counter("A03", "社保医保", "paused", "S03", "王五",
                 [_device("A03-pad", False, "09:58:12")], _today(5, 4, 3, 2),
                 [{**_incident("09:58:42", "device_offline", "S03", 1.0, exempt=True),
                   "device": "A03-pad"},
                  _incident("10:01:05", "left_mid_service", "S03", 0.0),
                  _incident("10:05:00", "consecutive_rating", "S03", 1.0, pending=True)]),
        _counter("B01", "公积金", "idle", "S04", "赵六",
                 [_device("B01-pad", True, "10:14:40", fault=True)], _today(3, 0, 0, 0),
                 [_incident("09:12:31", "refused_evaluation", "S04", 2.5)]),
        _counter("B02", "综合受理", "closed", None, None,
                 [_device("B02-pad", None, None, link="rs485")], _today(0, 0, 0, 0), []),
    ],
    "links": {"serial:/dev/ttyACM0": {"open": True, "frames_in": 10},
              "mqtt": {"connected": True}},
    "rejections": {"bad_tag": 3, "replayed_seq": 1},
}


@contextmanager
def serving(snapshot: Callable[[], dict[str, Any]]) -> Iterator[StatusServer]:
    server = StatusServer("127.0.0.1:0", snapshot)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def url(server: StatusServer, path: str = "/") -> str:
    host, port = server.address
    return f"http://{host}:{port}{path}"


def chromium_command(target: str, profile: Path, *options: str) -> list[str]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is not installed (Debian's chromium package)", pytrace=False)
    return [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *options, target]


def chromium(target: str, profile: Path, *options: str) -> str:
    done = subprocess.run(chromium_command(target, profile, *options), capture_output=True,
                          text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rendered(server: StatusServer, profile: Path) -> str:
    """The page's DOM once its script has fetched and drawn the snapshot."""
    return chromium(url(server), profile, "--virtual-time-budget=3000", "--dump-dom")


def texts(dom: str, cls: str) -> list[str]:
    """Text of the elements with this class (no nested elements inside them)."""
    return re.findall(rf'class="{cls}"[^>]*>([^<]*)<', dom)


# --- in the browser ------------------------------------------------------------------------


def test_the_page_shows_every_counter_with_state_staff_devices_figures_and_incidents(
        tmp_path: Path) -> None:
    with serving(lambda: SNAPSHOT) as server:
        dom = rendered(server, tmp_path / "profile")
    assert 'class="conn ok"' in dom and "unreachable" not in dom
    assert texts(dom, "counter-id") == ["A01", "A02", "A03", "B01", "B02"]
    assert texts(dom, "counter-name") == ["不动产登记 1", "不动产登记 2", "社保医保", "公积金",
                                          "综合受理"]
    for state in ("serving", "invited", "paused", "idle", "closed"):
        assert f"card state-{state}" in dom
    assert texts(dom, "badge") == ["办理中 ", "待评价 ", "暂停服务 ", "空闲 ", "未开窗 "]
    assert texts(dom, "staff-name") == ["张三", "李四", "王五", "赵六", "—"]
    assert "device device-online" in dom and "device device-offline" in dom
    assert "device device-fault" in dom and "device device-unknown" in dom
    assert "最后 09:58:12" in dom and "从未 never" in dom
    assert texts(dom, "incident-device") == ["A03-pad"]
    assert texts(dom, "penalty") == ["1.0", "1.0", "0.0", "1.0", "2.5"]
    assert '<tr class="exempt">' in dom and '<tr class="pending">' in dom
    for label in ("未提示评价", "评价器离线", "中途离岗", "连续评价", "拒绝评价", "免扣", "待核实"):
        assert label in dom
    assert "88.9%" in dom and "100.0%" in dom
    assert '<dd id="hall">' not in dom and ">qingpu-demo<" in dom
    assert ">2026-11-23 10:15:02<" in dom and ">2 h 15 min<" in dom
    assert '<dd id="seq">1234</dd>' in dom and '<dd id="backlog">12</dd>' in dom
    assert texts(dom, "reason") == ["bad_tag", "replayed_seq"]
    assert texts(dom, "link-name") == ["mqtt", "serial:/dev/ttyACM0"]


def test_text_from_the_configuration_is_shown_as_text_never_as_markup(tmp_path: Path) -> None:
    hostile = '<img src=x onerror="document.title=1">'
    snap = copy.deepcopy(SNAPSHOT)
    snap["counters"][0]["staff_name"] = hostile
    snap["counters"][0]["name"] = "<b>A</b>"
    snap["rejections"] = {"<script>x()</script>": 1}
    with serving(lambda: snap) as server:
        dom = rendered(server, tmp_path / "profile")
    assert "<img" not in dom and "<b>A</b>" not in dom and "<script>x()" not in dom
    assert "&lt;img src=x onerror=\"document.title=1\"&gt;" in dom
    assert texts(dom, "counter-name")[0] == "&lt;b&gt;A&lt;/b&gt;"


def test_a_snapshot_missing_optional_keys_still_renders(tmp_path: Path) -> None:
    snap = {"hall": {"id": "bare"},
            "agent": {"uptime_s": 5, "journal": {"seq": 0}, "center": None},
            "counters": [{"id": "A01", "state": "idle",
                          "devices": [{"id": "A01-pad", "online": None}],
                          "today": {"tickets": 0, "rate": None}}]}
    with serving(lambda: snap) as server:
        dom = rendered(server, tmp_path / "profile")
    assert 'class="conn ok"' in dom
    assert texts(dom, "counter-id") == ["A01"] and "card state-idle" in dom
    assert "未配置上传" in dom and "device device-unknown" in dom
    assert "今日无事件" in dom and ">0 min 5 s<" in dom


def _outage(t: str, ref: str, status: str, exempt: bool, pending: bool) -> dict[str, Any]:
    return {**_incident(t, "device_offline", "S01", 1.0, exempt=exempt, pending=pending),
            "device": "A01-pad", "faults": [{"ref": ref, "source": "staff", "status": status,
                                             "line": 9}]}


def test_outages_show_their_repair_records_pending_verified_or_rejected(tmp_path: Path) -> None:
    """RULES.md §3: an outage with an unverified report is deducted until the IT department
    rules (待核实), exempt once verified (已查实), deducted when rejected (非设备故障); the
    pad lists its open repair records with their status."""
    snap = copy.deepcopy(SNAPSHOT)
    a01 = snap["counters"][0]
    a01["incidents"] = [_outage("09:01:00", "A01-pad-20261123090500", "unverified", False, True),
                        _outage("10:01:00", "A01-pad-20261123100500", "verified", True, False),
                        _outage("11:01:00", "A01-pad-20261123110500", "rejected", False, False)]
    a01["devices"][0]["repairs"] = [{"ref": "A01-pad-20261123090500", "source": "staff",
                                     "status": "unverified", "t": "2026-11-23T09:05:00+08:00"}]
    with serving(lambda: snap) as server:
        dom = rendered(server, tmp_path / "profile")
    card = dom[dom.index('data-counter="A01"'):dom.index('data-counter="A02"')]
    rows = re.findall(r'<tr class="(\w+)">', card)
    assert rows == ["pending", "exempt", "counted"]
    for text in ("待核实 暂扣", "已查实 免扣", "非设备故障 扣分",
                 "A01-pad-20261123090500 待核实", "A01-pad-20261123100500 已查实",
                 "A01-pad-20261123110500 非设备故障"):
        assert text in card
    assert "报修 repair A01-pad-20261123090500 · 工作人员 staff · 09:05:00" in card
    assert 'class="repair repair-unverified"' in card


def test_a_pad_whose_link_reports_it_gone_is_marked_before_it_is_down(tmp_path: Path) -> None:
    snap = copy.deepcopy(SNAPSHOT)
    snap["counters"][0]["devices"][0]["link_lost"] = "last will"
    with serving(lambda: snap) as server:
        dom = rendered(server, tmp_path / "profile")
    assert "device device-link_lost" in dom and "链路断开" in dom


def test_an_evdev_links_devices_are_lines_of_words_not_raw_json(tmp_path: Path) -> None:
    snap = copy.deepcopy(SNAPSHOT)
    snap["links"]["evdev"] = {"running": True, "devices": {
        "A01-badge": {"kind": "badge", "path": "/dev/input/by-id/usb-Sycreader_RFID_"
                      "Technology_Co._Ltd_SYC_ID_IC_USB_Reader_08FF20140315-event-kbd",
                      "open": True, "events": 40, "rejections": {}, "last_error": None},
        "A01-keypad": {"kind": "keypad", "path": "/dev/input/by-id/kp", "open": False,
                       "rejections": {"unmapped_key": 2}, "last_error": "unplugged"}}}
    with serving(lambda: snap) as server:
        dom = rendered(server, tmp_path / "profile")
    lines = texts(dom, "link-extra link-part")
    assert lines[0].startswith("A01-badge: kind badge, path /dev/input/by-id/usb-Sycreader")
    assert lines[1] == ("A01-keypad: kind keypad, path /dev/input/by-id/kp, open false, "
                        "rejections unmapped_key 2, last_error unplugged")
    assert texts(dom, "link-extra")[0] == "running true"
    assert '{"' not in dom  # no raw JSON anywhere on the page
    assert "since the agent started" in dom and ">2026-11-23 08:00:00<" in dom


def test_when_the_agent_stops_answering_the_page_says_unreachable(tmp_path: Path) -> None:
    calls = itertools.count(1)
    second = threading.Event()
    release = threading.Event()

    def snapshot() -> dict[str, Any]:
        if next(calls) == 1:
            return SNAPSHOT
        second.set()  # the page's next fetch: the agent dies before answering it
        release.wait(30)
        raise RuntimeError("gone")

    server = StatusServer("127.0.0.1:0", snapshot)
    server.start()
    command = chromium_command(url(server), tmp_path / "profile",
                               "--virtual-time-budget=6000", "--dump-dom")
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True) as browser:
        try:
            assert second.wait(60), "the page never fetched the status a second time"
            server.stop()  # cuts the connection waiting for the answer, closes the port
        finally:
            release.set()
            server.stop()
        dom, _ = browser.communicate(timeout=90)
    assert 'class="conn down"' in dom and "agent unreachable" in dom
    assert "stale" in re.search(r"<body[^>]*>", dom).group(0)  # type: ignore[union-attr]
    assert texts(dom, "counter-id") == ["A01", "A02", "A03", "B01", "B02"]  # last known


def test_screenshot_for_review(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "status_page.png"
    shot.unlink(missing_ok=True)
    with serving(lambda: SNAPSHOT) as server:
        chromium(url(server), tmp_path / "profile", "--virtual-time-budget=3000",
                 f"--screenshot={shot}", "--window-size=1280,900", "--hide-scrollbars")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- over HTTP -----------------------------------------------------------------------------


def get(server: StatusServer, path: str, method: str = "GET") -> tuple[int, bytes, Any]:
    conn = http.client.HTTPConnection(*server.address, timeout=10)
    try:
        conn.request(method, path)
        answer = conn.getresponse()
        return answer.status, answer.read(), answer.headers
    finally:
        conn.close()


def test_the_page_and_its_files_are_served_with_a_strict_policy_and_no_external_asset(
        ) -> None:
    with serving(lambda: SNAPSHOT) as server:
        status, html, headers = get(server, "/")
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        files = {path: get(server, path) for path in ("/status.js", "/status.css")}
    assert all(status == 200 for status, _, _ in files.values())
    assert files["/status.js"][2]["Content-Type"].startswith("text/javascript")
    for body in [html, *(body for _, body, _ in files.values())]:
        assert not re.search(rb"(https?:)?//[a-z0-9.-]+\.[a-z]", body)  # no CDN, no fonts
    assert b"innerHTML" not in files["/status.js"][1]


def test_status_json_is_the_snapshot() -> None:
    with serving(lambda: SNAPSHOT) as server:
        status, body, headers = get(server, "/status.json")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    assert json.loads(body) == SNAPSHOT


def test_unknown_paths_and_methods_are_refused() -> None:
    with serving(lambda: SNAPSHOT) as server:
        assert get(server, "/nope")[0] == 404
        assert get(server, "/static/status.html")[0] == 404
        status, _, headers = get(server, "/status.json", method="POST")
        assert status == 405 and headers["Allow"] == "GET, HEAD"
        assert get(server, "/", method="HEAD")[:2] == (200, b"")


def test_a_failing_snapshot_is_a_500_logged_once_while_it_lasts(
        caplog: pytest.LogCaptureFixture) -> None:
    failing = [True]

    def snapshot() -> dict[str, Any]:
        if failing[0]:
            raise KeyError("A09")
        return SNAPSHOT

    with caplog.at_level(logging.INFO, "edge_agent.status"), serving(snapshot) as server:
        answers = [get(server, "/status.json") for _ in range(3)]
        failing[0] = False
        assert get(server, "/status.json")[0] == 200
    assert [a[0] for a in answers] == [500, 500, 500]
    assert json.loads(answers[0][1]) == {
        "error": "the agent could not build its status; see its log"}
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["status snapshot failed: KeyError: 'A09'"]
    assert "status snapshot works again" in caplog.text
    assert all(r.exc_info is None for r in caplog.records)


def test_a_snapshot_that_is_not_strict_json_is_a_500() -> None:
    snap = copy.deepcopy(SNAPSHOT)
    snap["agent"]["uptime_s"] = float("nan")
    with serving(lambda: snap) as server:
        assert get(server, "/status.json")[0] == 500

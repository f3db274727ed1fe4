"""A new integrator's first day, from the docs alone.

The pad here is written from docs/protocol.md's tables only: its own frame layout, CRC-16,
HMAC tag, COBS and press payload below, never the agent's codec (edge_agent/wire) nor the
firmware's. The broker's files come from `broker-files`, the pad's MQTT password from the
derivation configuration.md states. Staff log in through the queue hook (HTTP, and MQTT with
the real mosquitto_pub), a press goes in over MQTT (the real mosquitto_pub, its ack read with
the real mosquitto_sub on the monitor account) and over a pty (a USB pad), and each is
accepted, acked and journaled for the staff the queue system named.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.service.test_broker_files import GeneratedConfBroker
from tools.harness.ports import free_port
from tools.harness.pty_pair import PtyPair

ROOT = Path(__file__).resolve().parents[1]
HALL = "int-hall"
TOKEN = secrets.token_hex(16)
WAIT_S = 30.0

# --- the outside pad: docs/protocol.md, "Frame" and "Messages" ---------------------------

VERSION = 1
PRESS, ACK = 0x01, 0x81


def crc16_ccitt_false(data: bytes) -> int:
    """poly 0x1021, init 0xFFFF, no reflection, no final xor."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def seal_frame(key: bytes, address: int, kind: int, boot: int, seq: int,
               payload: bytes) -> bytes:
    """version, address, type, boot u16, seq u32, payload; tag = HMAC-SHA256 of all that,
    first 8 bytes; CRC over everything before it. Big-endian."""
    head = bytes([VERSION, address, kind]) + boot.to_bytes(2, "big") + seq.to_bytes(4, "big")
    body = head + payload
    body += hmac.new(key, body, hashlib.sha256).digest()[:8]
    return body + crc16_ccitt_false(body).to_bytes(2, "big")


def press_payload(key_index: int, level: int) -> bytes:
    """flags u8, age_ms u32, key index u8, level u8."""
    return bytes([0]) + (0).to_bytes(4, "big") + bytes([key_index, level])


def open_frame(key: bytes, raw: bytes) -> tuple[int, int, int, int, bytes] | None:
    """(address, type, boot, seq, payload) of a frame whose CRC and tag hold, else None."""
    if len(raw) < 19 or crc16_ccitt_false(raw[:-2]) != int.from_bytes(raw[-2:], "big"):
        return None
    body, tag = raw[:-10], raw[-10:-2]
    if not hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest()[:8], tag):
        return None
    return (raw[1], raw[2], int.from_bytes(raw[3:5], "big"), int.from_bytes(raw[5:9], "big"),
            body[9:])


def is_ack_of(key: bytes, raw: bytes, address: int, boot: int, seq: int) -> bool:
    """An ack (0x81) to this address whose payload names the pad's (boot u16, seq u32)."""
    opened = open_frame(key, raw)
    return opened is not None and opened[:2] == (address, ACK) and opened[4] == (
        boot.to_bytes(2, "big") + seq.to_bytes(4, "big"))


def cobs_encode(data: bytes) -> bytes:
    """Consistent Overhead Byte Stuffing (Cheshire & Baker): each block is a code byte (the
    distance to the next zero, 0xFF for 254 bytes without one) and the bytes up to it."""
    out, block = bytearray(), bytearray()
    for byte in data:
        if byte == 0:
            out += bytes([len(block) + 1]) + block
            block.clear()
        else:
            block.append(byte)
            if len(block) == 254:
                out += b"\xff" + block
                block.clear()
    return bytes(out + bytes([len(block) + 1]) + block)


def cobs_decode(data: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(data):
        code = data[i]
        out += data[i + 1:i + code]
        i += code
        if code != 0xFF and i < len(data):
            out.append(0)
    return bytes(out)


def mqtt_password(key: bytes) -> str:
    """configuration.md, [mqtt]: HMAC-SHA256(device key, "window-eval/mqtt-password/v1"),
    the first 32 hex digits."""
    return hmac.new(key, b"window-eval/mqtt-password/v1", hashlib.sha256).hexdigest()[:32]


def test_the_outside_codec_matches_the_documented_check_values() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1  # protocol.md's check value
    assert cobs_encode(b"\x11\x00\x00\x22") == b"\x02\x11\x01\x02\x22"
    assert cobs_decode(cobs_encode(bytes(range(256)) * 2)) == bytes(range(256)) * 2
    # The published vectors (protocol.md names them): every frame opens with this codec,
    # and is framed on a serial line exactly as they say.
    vectors = json.loads((ROOT / "firmware" / "protocol_vectors.json").read_text())
    keys = {d["address"]: bytes.fromhex(d["key"]) for d in vectors["devices"]}
    assert len(vectors["frames"]) >= 5
    for vector in vectors["frames"]:
        raw = bytes.fromhex(vector["raw"])
        assert seal_frame(keys[vector["address"]], vector["address"], vector["type"],
                          vector["boot"], vector["seq"], bytes.fromhex(vector["payload"])) == raw
        assert open_frame(keys[vector["address"]], raw) is not None
        assert cobs_encode(raw) + b"\x00" == bytes.fromhex(vector["wire"])


# --- the hall, as an integrator writes it ------------------------------------------------


def tool(name: str) -> str:
    found = shutil.which(name) or f"/usr/bin/{name}"
    if not os.access(found, os.X_OK):
        pytest.fail(f"{name} is not installed: run tools/bootstrap (Debian mosquitto-clients)",
                    pytrace=False)
    return found


class Lines:
    """A command's stdout lines on a queue (a reader thread), for mosquitto_sub."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, found: Callable[[str], bool], again: Callable[[], None]) -> str:
        """Wait for a line `found` accepts, calling `again` every second meanwhile (a pad
        retransmits; a queue system retries): the subscription may not be in place yet."""
        end = time.monotonic() + WAIT_S
        while time.monotonic() < end:
            again()
            try:
                line = self.lines.get(timeout=1.0)
            except queue.Empty:
                continue
            if found(line):
                return line
        raise AssertionError(f"nothing matching came within {WAIT_S} s")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def http(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"Authorization": f"Bearer {TOKEN}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.fixture
def hall(tmp_path: Path) -> Iterator[dict[str, Any]]:
    line = PtyPair.open(blocking=False)
    master = line.master
    keys = {"A01-pad": secrets.token_bytes(32), "B01-pad": secrets.token_bytes(32)}
    ports = {"mqtt": free_port(), "status": free_port(), "hook": free_port()}
    text = f"""
[hall]
id = "{HALL}"
[agent]
journal = "journal.sqlite"
status_listen = "127.0.0.1:{ports['status']}"
[mqtt]
port = {ports['mqtt']}
password = "{secrets.token_hex(12)}"
broker_dir = "broker"
[hook]
listen = "127.0.0.1:{ports['hook']}"
token = "{TOKEN}"
salt = "{secrets.token_hex(16)}"
[counters.A01]
name = "综合窗口 1"
[counters.B01]
name = "综合窗口 2"
[staff.S01]
name = "张三"
[staff.S02]
name = "李四"
[devices.A01-pad]
counter = "A01"
link = "mqtt"
address = 5
key = "{keys['A01-pad'].hex()}"
[devices.B01-pad]
counter = "B01"
link = "usb"
port = "{line.path}"
key = "{keys['B01-pad'].hex()}"
"""
    config = tmp_path / "hall.toml"
    config.write_text(text)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "edge_agent"]
    assert subprocess.run([*cli, "check-config", str(config)], env=env, cwd=ROOT,
                          capture_output=True).returncode == 0
    assert subprocess.run([*cli, "broker-files", "--config", str(config)], env=env, cwd=ROOT,
                          capture_output=True).returncode == 0
    broker = GeneratedConfBroker(tmp_path / "mosquitto", ports["mqtt"],
                                 tmp_path / "broker" / "window-eval.conf")
    broker.start()
    with (tmp_path / "agent.log").open("wb") as log:
        agent = subprocess.Popen([*cli, "run", "--config", str(config)], env=env, cwd=ROOT,
                                 stdout=log, stderr=log)
    info = {"config": config, "keys": keys, "master": master, "agent": agent, "cli": cli,
            "env": env, "status": f"http://127.0.0.1:{ports['status']}/status.json",
            "hook": f"http://127.0.0.1:{ports['hook']}/v1/queue",
            "mqtt": ["-h", "127.0.0.1", "-p", str(ports["mqtt"]), "-q", "1"],
            "monitor": (tmp_path / "broker" / "monitor-password").read_text().strip()}
    try:
        end = time.monotonic() + WAIT_S
        while time.monotonic() < end:
            try:
                if http(info["status"])[1].get("links", {}).get("mqtt", {}).get("connected"):
                    break
            except OSError:
                pass
            time.sleep(0.2)
        yield info
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        broker.stop()
        line.close()


def queue_over_mqtt(hall: dict[str, Any], answers: Lines, report: dict[str, Any]) -> Any:
    """Publish a report as the queue system (user `queue`, the hook token) until its answer
    comes on hall/<hall>/queue/answer (read here on the monitor account)."""
    def publish() -> None:
        subprocess.run([tool("mosquitto_pub"), *hall["mqtt"], "-u", "queue", "-P", TOKEN,
                        "-t", f"hall/{HALL}/queue", "-m", json.dumps(report)],
                       check=True, capture_output=True, timeout=20)
    line = answers.until(lambda s: json.loads(s).get("id") == report["id"], publish)
    return json.loads(line)


def test_an_integrator_logs_staff_in_through_the_queue_and_a_press_counts_for_them(
        hall: dict[str, Any], tmp_path: Path) -> None:
    mqtt, monitor = hall["mqtt"], ["-u", "monitor", "-P", hall["monitor"]]
    # What the hook refuses, and why (protocol.md): a pause at a counter nobody is logged in
    # at clashes with the record (409); a staff id the hall file does not have is a bad body.
    assert http(hall["hook"], {"counter": "A01", "type": "pause"}) == (
        409, {"ok": False, "error": "conflict: counter A01 is closed (no staff logged in)"})
    assert http(hall["hook"], {"counter": "A01", "type": "staff_login", "staff": "S9"}) == (
        400, {"ok": False, "error": "unknown staff 'S9' (not a [staff.ID] of the hall file)"})
    # A01: the queue system logs S01 in and calls a ticket over HTTP (curl's job).
    for report in [{"counter": "A01", "type": "staff_login", "staff": "S01"},
                   {"counter": "A01", "type": "ticket_called", "ticket": "A001"},
                   {"counter": "A01", "type": "service_done", "ticket": "A001"}]:
        assert http(hall["hook"], report) == (200, {"ok": True})
    # A01's pad (MQTT, address 5) presses 满意: key 0, level 1, boot 1, seq 1.
    key_a = hall["keys"]["A01-pad"]
    frame = seal_frame(key_a, 5, PRESS, 1, 1, press_payload(0, 1))
    (tmp_path / "press.bin").write_bytes(frame)
    down = Lines([tool("mosquitto_sub"), *mqtt, *monitor, "-F", "%x",
                  "-t", f"hall/{HALL}/A01/A01-pad/down"])
    try:
        def press() -> None:  # the same (boot, seq) until acked, as a pad retransmits
            subprocess.run([tool("mosquitto_pub"), *mqtt, "-u", "A01-pad", "-P",
                            mqtt_password(key_a), "-t", f"hall/{HALL}/A01/A01-pad/up",
                            "-f", str(tmp_path / "press.bin")],
                           check=True, capture_output=True, timeout=20)
        down.until(lambda s: is_ack_of(key_a, bytes.fromhex(s), 5, 1, 1), press)
    finally:
        down.close()

    # B01: the queue system logs S02 in and calls a ticket over MQTT, with answers.
    answers = Lines([tool("mosquitto_sub"), *mqtt, *monitor, "-t", f"hall/{HALL}/queue/answer"])
    try:
        for i, report in enumerate([
                {"counter": "B01", "type": "staff_login", "staff": "S02"},
                {"counter": "B01", "type": "ticket_called", "ticket": "B001"},
                {"counter": "B01", "type": "service_done", "ticket": "B001"}]):
            answer = queue_over_mqtt(hall, answers, {**report, "id": f"q{i}"})
            assert answer["ok"] is True and answer["type"] == report["type"]
        refused = queue_over_mqtt(hall, answers, {"counter": "B01", "type": "staff_login",
                                                  "staff": "S9", "id": "bad"})
        assert refused == {"id": "bad", "ok": False,
                           "error": "unknown staff 'S9' (not a [staff.ID] of the hall file)"}
    finally:
        answers.close()
    # B01's pad (USB: a pty) presses 满意 with COBS framing and a 0x00 after each frame.
    key_b, master = hall["keys"]["B01-pad"], hall["master"]
    wire = cobs_encode(seal_frame(key_b, 1, PRESS, 1, 1, press_payload(0, 1))) + b"\x00"
    heard = bytearray()
    end, acked = time.monotonic() + WAIT_S, False
    while not acked and time.monotonic() < end:
        os.write(master, wire)
        time.sleep(1.0)
        try:
            heard += os.read(master, 4096)
        except BlockingIOError:
            continue
        frames = bytes(heard).split(b"\x00")
        acked = any(is_ack_of(key_b, cobs_decode(f), 1, 1, 1) for f in frames[:-1] if f)
    assert acked, "no ack over the pty"

    # Journaled: both presses accepted, each for the staff the queue system logged in.
    status = http(hall["status"])[1]
    today = {c["id"]: (c["staff"], c["today"]) for c in status["counters"]}
    assert today["A01"][0] == "S01" and today["A01"][1]["accepted"] == 1
    assert today["B01"][0] == "S02" and today["B01"][1]["accepted"] == 1
    assert status["rejections"] == {"queue_conflict": 1, "bad_queue_report": 1}
    hall["agent"].send_signal(signal.SIGTERM)
    assert hall["agent"].wait(30) == 0
    month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    replay = subprocess.run([*hall["cli"], "replay", "--journal",
                             str(tmp_path / "journal.sqlite"), "--config", str(hall["config"]),
                             "--month", month], env=hall["env"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0, replay.stderr
    decisions = json.loads(replay.stdout)["decisions"]
    assert sorted((d["counter"], d["accepted"], d["ticket"]) for d in decisions) == [
        ("A01", True, "A001"), ("B01", True, "B001")]
    db = sqlite3.connect(f"file:{tmp_path / 'journal.sqlite'}?mode=ro", uri=True)
    try:
        outcomes = [json.loads(row[0]) for row in db.execute("SELECT outcome FROM records")]
    finally:
        db.close()
    assert sorted((o["decision"]["ticket"], o["decision"]["staff"]) for o in outcomes
                  if o.get("decision")) == [("A001", "S01"), ("B001", "S02")]

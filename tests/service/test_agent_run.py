"""The assembled agent (`python -m edge_agent run`) through its outside surfaces: MQTT pads,
the queue hook, the status page and `status` command, bad input on each, and SIGTERM."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.broker import Broker, broker  # noqa: F401  (fixture)
from tools.harness.ports import free_port
from tools.padfleet import PadFleet, fleet_config

ROOT = Path(__file__).resolve().parents[2]
TOKEN = secrets.token_hex(16)


def get(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return json.load(reply)


def post(url: str, body: bytes, token: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def wait_until(check: Any, timeout_s: float = 20) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
def agent(tmp_path: Path, broker: Broker) -> Iterator[dict[str, Any]]:  # noqa: F811
    status_port, hook_port = free_port(), free_port()
    hook = (f'[hook]\nlisten = "127.0.0.1:{hook_port}"\ntoken = "{TOKEN}"\n'
            f'salt = "{secrets.token_hex(16)}"\n')
    text, pads = fleet_config("run", 2, broker.host, broker.port,
                              str(tmp_path / "journal.sqlite"), extra=hook,
                              status_listen=f"127.0.0.1:{status_port}")
    config = tmp_path / "hall.toml"
    config.write_text(text)
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "edge_agent", "run", "--config",
                                 str(config)], cwd=ROOT, stdout=out, stderr=out,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
    info = {"proc": proc, "log": log, "config": config, "pads": pads, "broker": broker,
            "status": f"http://127.0.0.1:{status_port}",
            "hook": f"http://127.0.0.1:{hook_port}/v1/queue"}
    try:
        wait_until(lambda: get(info["status"] + "/status.json"))
        yield info
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_agent_serves_pads_the_hook_and_the_status_page(agent: dict[str, Any]) -> None:
    mosquitto: Broker = agent["broker"]
    fleet = PadFleet("run", agent["pads"], mosquitto.host, mosquitto.port, gap_s=0.2)
    fleet.start()
    try:
        code, body = post(agent["hook"], json.dumps(
            {"counter": "C001", "type": "ticket_called", "ticket": "T7",
             "applicant_id": "31010119900101123X"}).encode(), TOKEN)
        assert (code, body) == (200, {"ok": True})
        wait_until(lambda: len(fleet.acked()) >= 6)
        assert fleet.settle(20)
    finally:
        fleet.stop()

    def counter(cid: str) -> dict[str, Any]:
        status = get(agent["status"] + "/status.json")
        return next(c for c in status["counters"] if c["id"] == cid)

    c001 = wait_until(lambda: (c := counter("C001"))["today"]["ratings"] >= 3 and c)
    assert c001["today"]["tickets"] == 1
    assert c001["today"]["ratings"] >= 3
    assert c001["devices"][0]["online"] is True
    presses = len(fleet.acked())
    wait_until(lambda: get(agent["status"] + "/status.json")["agent"]["journal"]["seq"]
               >= presses + 1)  # the ticket and every acked press

    cli = subprocess.run([sys.executable, "-m", "edge_agent", "status", "--url",
                          agent["status"]], cwd=ROOT, capture_output=True, text=True)
    assert cli.returncode == 0 and "C001" in cli.stdout
    journal_text = (agent["config"].parent / "journal.sqlite").read_bytes()
    assert b"31010119900101123X" not in journal_text  # only the salted hash is kept


def test_bad_input_is_refused_counted_and_the_agent_goes_on(agent: dict[str, Any]) -> None:
    mosquitto: Broker = agent["broker"]
    pad = agent["pads"][0]
    assert post(agent["hook"], b'{"counter": "C001", "type": "service_done"}', None)[0] == 401
    assert post(agent["hook"], b"{not json", TOKEN)[0] == 400
    raw = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="intruder")
    raw.connect(mosquitto.host, mosquitto.port)
    raw.loop_start()
    up = f"hall/run/{pad.counter}/{pad.device}/up"
    raw.publish(up, b"\x00garbage-not-a-frame", qos=1).wait_for_publish(5)
    raw.publish(f"hall/run/{pad.counter}/P999/up", b"x" * 30, qos=1).wait_for_publish(5)
    forged = bytearray(b"\x01\x01\x01\x00\x01\x00\x00\x00\x01" + bytes(5 + 2 + 8 + 2))
    raw.publish(up, bytes(forged), qos=1).wait_for_publish(5)
    raw.disconnect()
    raw.loop_stop()

    def refused() -> dict[str, Any] | None:
        status = get(agent["status"] + "/status.json")
        mqtt_refused = status["links"]["mqtt"]["refused"]
        hook_refused = status["links"]["QueueHook"]["refused"]
        ok = (mqtt_refused.get("unknown_device_topic") and hook_refused.get("unauthorized")
              and hook_refused.get("bad_report") and sum(status["rejections"].values()) >= 2)
        return status if ok else None

    status = wait_until(refused)
    assert agent["proc"].poll() is None  # still running
    agent["proc"].send_signal(signal.SIGTERM)
    assert agent["proc"].wait(20) == 0
    log = agent["log"].read_text()
    assert "Traceback" not in log
    assert "refused" in log and status["rejections"]

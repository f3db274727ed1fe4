"""One agent per journal: a second `run` on the same journal is refused before it touches
anything (no MQTT session taken, no boot counter raised, no port bound), with a message naming
the process that holds it; the first agent is undisturbed. The lock dies with its process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import parse_config
from edge_agent.service.run import JournalLock, ServiceError, lock_journal
from tests.broker import Broker, broker  # noqa: F401  (fixture)
from tests.service.test_agent_run import get, wait_until
from tools.harness.ports import free_port
from tools.padfleet import fleet_config

ROOT = Path(__file__).resolve().parents[2]


def agent_config(folder: Path, journal: Path, mosquitto: Broker) -> Path:
    text, _ = fleet_config("lock", 1, mosquitto.host, mosquitto.port, str(journal),
                           status_listen=f"127.0.0.1:{free_port()}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hall.toml"
    path.write_text(text)
    return path


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "edge_agent", "run", "--config",
                                 str(config)], cwd=ROOT, stdout=out, stderr=out,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})


def status_url(config: Path) -> str:
    listen = parse_config(config.read_text()).service.agent.status_listen
    return f"http://{listen}/status.json"


def boot_meta(journal: Path) -> str:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'agent_boot'").fetchone()
    return str(row[0])


def mqtt_up(status: dict[str, Any]) -> dict[str, Any] | None:
    """The status once the agent is connected to the broker (its first snapshot may be {})."""
    return status if status.get("links", {}).get("mqtt", {}).get("connected") else None


@pytest.fixture
def first(tmp_path: Path, broker: Broker) -> Iterator[dict[str, Any]]:  # noqa: F811
    journal = tmp_path / "journal.sqlite"
    config = agent_config(tmp_path / "one", journal, broker)
    proc = start(config, tmp_path / "one.log")
    try:
        status = wait_until(lambda: mqtt_up(get(status_url(config))))
        yield {"proc": proc, "config": config, "journal": journal, "status": status,
               "broker": broker}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("same_file", [True, False])
def test_a_second_agent_is_refused_and_the_first_goes_on_undisturbed(
        tmp_path: Path, first: dict[str, Any], same_file: bool) -> None:
    # The same file (its ports clash too), or another file on the same journal with ports of
    # its own: either way the lock is what refuses it, before anything is opened.
    config = first["config"] if same_file else agent_config(
        tmp_path / "two", first["journal"], first["broker"])
    boot = boot_meta(first["journal"])
    second = subprocess.run([sys.executable, "-m", "edge_agent", "run", "--config",
                             str(config)], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert second.returncode == 2
    assert f"is in use by another agent (pid {first['proc'].pid};" in second.stderr
    assert "Traceback" not in second.stderr
    assert "mqtt: connected" not in second.stderr  # it never reached the broker
    after = get(status_url(first["config"]))
    assert boot_meta(first["journal"]) == boot == str(after["agent"]["boot"])
    mqtt = after["links"]["mqtt"]
    assert mqtt["connected"] and mqtt["connects"] == 1 and mqtt["reconnects"] == 0
    assert first["proc"].poll() is None
    assert "disconnected" not in (tmp_path / "one.log").read_text()


def test_the_lock_dies_with_its_process_even_a_killed_one(tmp_path: Path,
                                                          first: dict[str, Any]) -> None:
    boot = int(boot_meta(first["journal"]))
    first["proc"].send_signal(signal.SIGKILL)
    first["proc"].wait()
    again = start(first["config"], tmp_path / "again.log")
    try:
        status = wait_until(lambda: mqtt_up(get(status_url(first["config"]))))
        assert status["agent"]["boot"] == boot + 1
    finally:
        again.terminate()
        assert again.wait(30) == 0


def test_the_lock_names_its_holder_and_is_free_again_once_released(tmp_path: Path) -> None:
    config = parse_config(f'[hall]\nid = "x"\n[agent]\njournal = "{tmp_path}/j/journal.sqlite"\n')
    held = lock_journal(config)
    assert held.path.read_text() == f"{os.getpid()}\n"
    with pytest.raises(ServiceError, match=rf"in use by another agent \(pid {os.getpid()};"):
        JournalLock(tmp_path / "j" / "journal.sqlite")
    assert not (tmp_path / "j" / "journal.sqlite").exists()  # the journal was never opened
    held.release()
    lock_journal(config).release()

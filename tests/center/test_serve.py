"""`python -m server_stub serve` as an operator runs it: a real process, a real redis-server."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from server_stub.config import token_digest
from server_stub.storage import flush_all
from server_stub.store import Store
from tests.center.fixtures import TOKEN, VIEWER_TOKEN, auth, batch, chain, write_center
from tests.redis_cluster import LocalCluster
from tests.redis_server import RedisServer
from tools.harness.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def _serve(config: Path, port: int, redis_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "server_stub", "serve", "--config",
                             str(config), "--listen", f"127.0.0.1:{port}", "--redis", redis_url],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_listening(port: int, proc: subprocess.Popen[str]) -> None:
    end = time.monotonic() + 20
    while time.monotonic() < end and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the center did not listen: {proc.communicate()[0]}")


def test_serve_ingests_on_one_kept_alive_connection_and_stops_cleanly_on_sigterm(
        tmp_path: Path, redis_server: RedisServer) -> None:
    config, port = write_center(tmp_path / "center"), free_port()
    proc = _serve(config, port, redis_server.url)
    try:
        _wait_listening(port, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        records = chain(5)
        for part in (records[:3], records[3:]):
            body, headers = batch(part)
            conn.request("POST", "/v1/halls/test/batches", body, headers)
            answer = conn.getresponse()
            assert answer.status == 200 and json.loads(answer.read())["seq"] == part[-1].seq
        conn.request("GET", "/v1/halls/test/head", headers=auth())
        assert json.loads(conn.getresponse().read())["seq"] == 5
        conn.request("GET", "/v1/halls/test/head", headers=auth("wrong"))
        assert conn.getresponse().status == 401
        conn.close()
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=20)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "center: 2 halls, listening on" in output
    assert "refused GET /v1/halls/test/head: 401 unauthorized: unknown token" in output
    assert redis_server.client().llen("hall:{test}:records") == 5


def test_a_bad_configuration_or_listen_address_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "center.toml"
    bad.write_text('[halls.test]\ntoken_sha256 = "nope"\n')
    for argv, message in (
            (["--config", str(bad)], "[halls.test] config: missing"),
            (["--config", str(bad), "--listen", "8600"], "--listen must be HOST:PORT")):
        proc = subprocess.run([sys.executable, "-m", "server_stub", "serve", *argv], cwd=ROOT,
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 2 and message in proc.stderr
        assert "Traceback" not in proc.stderr


def test_token_prints_a_token_and_its_digest() -> None:
    proc = subprocess.run([sys.executable, "-m", "server_stub", "token"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    token = proc.stdout.split('"')[1]
    assert f'token_sha256 = "{token_digest(token)}"' in proc.stdout
    assert token not in (TOKEN, VIEWER_TOKEN) and len(token) == 48


def test_serve_on_a_redis_cluster_named_in_the_config_needs_no_redis_option(
        tmp_path: Path, local_cluster: LocalCluster) -> None:
    flush_all_of(local_cluster)
    seeds = ", ".join(f'"{h}:{p}"' for h, p in local_cluster.seeds)
    config, port = write_center(tmp_path / "center", f"[storage]\ncluster = [{seeds}]\n"), \
        free_port()
    proc = subprocess.Popen([sys.executable, "-m", "server_stub", "serve", "--config",
                             str(config), "--listen", f"127.0.0.1:{port}"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_listening(port, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body, headers = batch(chain(7))
        conn.request("POST", "/v1/halls/test/batches", body, headers)
        assert json.loads(conn.getresponse().read())["seq"] == 7
        conn.close()
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=20)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "storage Redis Cluster via 127.0.0.1:" in output
    with local_cluster.client() as client:
        assert client.llen("hall:{test}:records") == 7


def flush_all_of(cluster: LocalCluster) -> None:
    with cluster.client() as client:
        flush_all(client)


def test_archive_command_bad_input_is_exit_2(tmp_path: Path) -> None:
    config = write_center(tmp_path / "center")
    for argv, message in (
            (["--before", "2026-13"], "--before must be YYYY-MM, got '2026-13'"),
            (["--before", "2026-03"], "no archive folder: give --dir or [archive] dir"),
            (["--before", "2026-03", "--dir", "x", "--hall", "nope"],
             "--hall 'nope': not a hall of"),
            (["--before", "2026-03", "--dir", "x", "--redis", "http://x"],
             "--redis must be a redis:// URL")):
        proc = subprocess.run([sys.executable, "-m", "server_stub", "archive", "--config",
                               str(config), *argv], cwd=ROOT, capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_serve_archives_closed_months_periodically(
        tmp_path: Path, redis_server: RedisServer) -> None:
    from tests.center.test_archive_crash import spread_chain

    config = write_center(tmp_path / "center", '[archive]\ndir = "months"\nkeep_months = 0\n'
                                               'every_hours = 0.0003\n')  # about 1 s
    records = spread_chain(3000)  # January to April 2026
    store = Store(redis_server.client(), tmp_path / "center" / "months")
    store.append("test", "pi", records)
    port = free_port()
    proc = _serve(config, port, redis_server.url)
    try:
        _wait_listening(port, proc)
        end = time.monotonic() + 30
        while len(store.segments("test")) < 3 and time.monotonic() < end:
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=20)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert [s.month for s in store.segments("test")] == ["2026-01", "2026-02", "2026-03"], output
    assert "archive: hall test: 3 months archived; 2026-04 is not closed" in output
    assert list(store.records("test")) == records

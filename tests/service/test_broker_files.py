"""edge_agent.service.broker_files: the generated passwd, acl and window-eval.conf, checked by
the real mosquitto (tests/broker.py) and the agent's MqttLink."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import pwd
import queue
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import parse_config
from edge_agent.service.broker_files import (
    BrokerFilesError,
    acl_text,
    broker_files_main,
    broker_users,
    conf_text,
    monitor_password,
    password_line,
    write_broker_files,
)
from edge_agent.service.inputs import Inbox, LinkState, MqttFrame, QueueReport
from edge_agent.service.mqtt_link import MqttLink
from edge_agent.wire import DeviceKey, Encoder
from edge_agent.wire.keys import MQTT_LABEL, mqtt_password
from tests.broker import Broker, running_broker
from tests.service.test_mqtt_link import (
    AGENT_PASSWORD,
    HALL,
    KEY_A,
    KEY_B,
    QUEUE_TOKEN,
    Clock,
    Peer,
    hall_config,
    hall_toml,
    is_frame,
    press_frame,
    take,
    topic,
    until,
)
from tools import provision
from tools.harness.ports import free_port

PASS_A = mqtt_password(KEY_A.hex())
PASS_B = mqtt_password(KEY_B.hex())
REPORT = b'{"counter": "A01", "type": "service_done"}'


def verify(line: str, user: str, password: str) -> bool:
    """Checks a password-file line as mosquitto 2 does ($7$ = PBKDF2-HMAC-SHA512)."""
    name, _, rest = line.partition(":")
    _, kind, iterations, salt, digest = rest.split("$")
    computed = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt),
                                   int(iterations), 64)
    return name == user and kind == "7" and base64.b64encode(computed).decode() == digest


def lines(path: Path) -> dict[str, str]:
    return {line.partition(":")[0]: line for line in path.read_text().splitlines()}


# -- the text of the files


def test_password_line_has_the_format_mosquitto_passwd_writes(tmp_path: Path) -> None:
    made = tmp_path / "made"
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    subprocess.run([tool, "-c", "-b", str(made), "pad", "s3cret"], check=True,
                   capture_output=True)
    theirs = made.read_text().strip()
    ours = password_line("pad", "s3cret")
    shape = re.compile(r"^pad:\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$")
    assert shape.match(theirs) and shape.match(ours)
    assert verify(theirs, "pad", "s3cret") and verify(ours, "pad", "s3cret")
    assert not verify(ours, "pad", "s3cret ")
    assert password_line("pad", "x", salt=b"\0" * 12) == password_line("pad", "x", salt=b"\0" * 12)
    assert password_line("pad", "x") != password_line("pad", "x")  # a fresh salt each time


def test_mqtt_password_moved_to_the_wire_keys_and_provision_uses_it() -> None:
    expected = hmac.new(KEY_A, b"window-eval/mqtt-password/v1", hashlib.sha256).hexdigest()[:32]
    assert MQTT_LABEL == b"window-eval/mqtt-password/v1"
    assert expected == PASS_A and provision.mqtt_password is mqtt_password


def test_users_are_the_agent_the_queue_system_and_each_mqtt_pad() -> None:
    users = broker_users(hall_config(1883))
    assert users == {"agent": AGENT_PASSWORD, "queue": QUEUE_TOKEN, "A01-pad": PASS_A,
                     "B02-pad": PASS_B,  # C03-pad is on USB
                     "monitor": monitor_password(AGENT_PASSWORD)}
    assert users["monitor"] == hmac.new(AGENT_PASSWORD.encode(), b"window-eval/mqtt-monitor/v1",
                                        hashlib.sha256).hexdigest()[:32]


def test_without_the_hook_there_is_no_queue_user() -> None:
    config = parse_config(hall_toml(1883).replace(f'token = "{QUEUE_TOKEN}"', ""))
    assert "queue" not in broker_users(config)
    assert "user queue" not in acl_text(config)


def test_acl_lets_pads_use_only_their_own_topics() -> None:
    assert acl_text(hall_config(1883)).splitlines()[2:] == [
        f"pattern write hall/{HALL}/+/%u/up",
        f"pattern write hall/{HALL}/+/%u/status",
        f"pattern read hall/{HALL}/+/%u/down",
        "",
        "user agent",
        f"topic readwrite hall/{HALL}/#",
        "",
        "user queue",
        f"topic write hall/{HALL}/queue",
        f"topic read hall/{HALL}/queue/answer",
        "",
        "# A technician's read-only view (troubleshooting.md): monitor-password.",
        "user monitor",
        f"topic read hall/{HALL}/#",
        "topic read $SYS/#",
    ]


def test_conf_names_the_files_and_keeps_the_broker_state(tmp_path: Path) -> None:
    text = conf_text(hall_config(18830), tmp_path)
    for line in ("listener 18830 127.0.0.1", "use_username_as_clientid true",
                 "allow_anonymous false", f"password_file {tmp_path}/passwd",
                 f"acl_file {tmp_path}/acl", "persistence true", "autosave_interval 10",
                 f"persistence_location {tmp_path}/data/"):
        assert line in text.splitlines()


@pytest.mark.parametrize(("edit", "message"), [
    (('key = "' + KEY_B.hex() + '"\n[devices.C03-pad]', '[devices.C03-pad]'),
     "[devices.B02-pad] key: missing; a device on link \"mqtt\" needs its key"),
    ((f'password = "{AGENT_PASSWORD}"', 'password = ""'), "[mqtt] password: required"),
    (('[devices.B02-pad]', '[devices.queue]'), "[devices.queue]: 'queue' is already the broker"),
    (('[devices.B02-pad]', '[devices.agent]'), "[devices.agent]: 'agent' is already the broker"),
    (('user = "agent"', 'user = "a:b"'), "[mqtt] user: 'a:b' cannot be a broker user name"),
])
def test_a_config_that_cannot_give_the_files_is_a_clear_error(edit: tuple[str, str],
                                                               message: str) -> None:
    config = parse_config(hall_toml(1883).replace(*edit, 1))
    with pytest.raises(BrokerFilesError) as err:
        broker_users(config)
    assert message in str(err.value)


# -- writing them, and the command


def test_files_are_written_atomically_with_mode_0600(tmp_path: Path) -> None:
    out = tmp_path / "broker"
    paths = write_broker_files(hall_config(1883), out)
    assert sorted(p.name for p in paths) == ["acl", "monitor-password", "passwd",
                                             "window-eval.conf"]
    assert sorted(p.name for p in out.iterdir()) == ["acl", "data", "monitor-password", "passwd",
                                                     "window-eval.conf"]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    passwd = lines(out / "passwd")
    assert verify(passwd["A01-pad"], "A01-pad", PASS_A)
    assert verify(passwd["agent"], "agent", AGENT_PASSWORD)
    assert verify(passwd["monitor"], "monitor", (out / "monitor-password").read_text().strip())
    write_broker_files(hall_config(1883), out)  # again: replaced, nothing left behind
    assert sorted(p.name for p in out.iterdir()) == ["acl", "data", "monitor-password", "passwd",
                                                     "window-eval.conf"]


def write_hall(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hall.toml"
    path.write_text(text)
    return path


def test_cli_writes_into_out_or_the_configured_broker_dir(tmp_path: Path, capsys: Any) -> None:
    hall = write_hall(tmp_path / "etc", hall_toml(1883))
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert broker_files_main(["--config", str(hall), "--out", str(tmp_path / "a"),
                              "--owner", me]) == 0
    assert (tmp_path / "a" / "passwd").stat().st_uid == os.geteuid()
    assert str(tmp_path / "a" / "acl") in capsys.readouterr().out
    configured = hall_toml(1883).replace('keepalive_s = 10', 'keepalive_s = 10\nbroker_dir = "b"')
    hall = write_hall(tmp_path / "etc", configured)
    assert broker_files_main(["--config", str(hall)]) == 0
    assert (tmp_path / "etc" / "b" / "window-eval.conf").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["--config", "{hall}"], "no --out given and [mqtt] broker_dir is not set"),
    (["--config", "{hall}", "--out", "{tmp}/o", "--owner", "no-such-user-x"],
     "--owner no-such-user-x: no such user"),
    (["--config", "{tmp}/missing.toml", "--out", "{tmp}/o"], "missing.toml: cannot read"),
    (["--config", "{nokey}", "--out", "{tmp}/o"], "[devices.A01-pad] key: missing"),
    (["--config", "{hall}", "--out", "{tmp}/file/o"], "cannot write"),
    (["--out", "{tmp}/o"], "the following arguments are required: --config"),
])
def test_cli_refuses_with_exit_2_and_a_message(tmp_path: Path, capsys: Any, argv: list[str],
                                               message: str) -> None:
    hall = write_hall(tmp_path, hall_toml(1883))
    nokey = write_hall(tmp_path / "nokey", hall_toml(1883).replace(
        f'address = 3\nkey = "{KEY_A.hex()}"', "address = 3"))
    (tmp_path / "file").write_text("not a folder")
    args = [a.format(hall=hall, nokey=nokey, tmp=tmp_path) for a in argv]
    assert broker_files_main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


# -- the real mosquitto with the generated files

SecureRig = tuple[MqttLink, Inbox, Broker]


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[SecureRig]:
    config = hall_config(free_port())
    out = tmp_path / "broker"
    write_broker_files(config, out)
    with running_broker(tmp_path / "mosquitto", port=config.service.mqtt.port,
                        password_file=out / "passwd", acl_file=out / "acl") as broker:
        link = MqttLink(config, Clock())  # logs in as [mqtt] user/password
        inbox: Inbox = queue.Queue()
        link.start(inbox)
        try:
            assert link.wait_subscribed(10)
            yield link, inbox, broker
        finally:
            link.stop()


@pytest.fixture
def peers() -> Iterator[list[Peer]]:
    made: list[Peer] = []
    yield made
    for peer in made:
        peer.close()


def join(peers: list[Peer], broker: Broker, user: str | None, password: str | None,
         client_id: str | None = None) -> Peer:
    peers.append(Peer(broker, client_id or user or "anonymous", user, password))
    return peers[-1]


def test_a_pad_logs_in_with_its_derived_password_both_ways(secured: SecureRig,
                                                            peers: list[Peer]) -> None:
    link, inbox, broker = secured
    pad = join(peers, broker, "A01-pad", PASS_A).joined()
    pad.subscribe(topic("A01", "A01-pad", "down"))
    pad.publish(topic("A01", "A01-pad", "up"), press_frame())
    assert take(inbox) == MqttFrame("A01-pad", press_frame(), 1_000_000)
    ack = Encoder(boot=1).ack(DeviceKey("A01-pad", KEY_A), 3, boot=1, seq=1)
    assert link.send("A01-pad", ack, ack=True)
    assert pad.message().payload == ack


@pytest.mark.parametrize(("user", "password"), [
    (None, None), ("A01-pad", PASS_B), ("A01-pad", ""), ("agent", "guess"), ("nobody", "x")])
def test_anonymous_and_wrong_passwords_are_refused(secured: SecureRig, peers: list[Peer],
                                                   user: str | None,
                                                   password: str | None) -> None:
    _, _, broker = secured
    code = join(peers, broker, user, password).connack()
    assert code.is_failure and str(code) == "Not authorized"


def test_a_pad_cannot_publish_as_another_device(secured: SecureRig, peers: list[Peer]) -> None:
    link, inbox, broker = secured
    pad = join(peers, broker, "A01-pad", PASS_A).joined()
    pad.publish(topic("B02", "B02-pad", "up"), press_frame(KEY_B, 4))  # the broker drops it
    pad.publish(topic("B02", "B02-pad", "status"), b"offline", retain=True)
    pad.publish(f"hall/{HALL}/queue", REPORT)
    pad.publish(topic("B02", "A01-pad", "up"), press_frame(seq=2))  # passes, the link refuses
    marker = press_frame(seq=3)
    pad.publish(topic("A01", "A01-pad", "up"), marker)
    assert until(inbox, is_frame(marker)) == [MqttFrame("A01-pad", marker, 1_000_000)]
    assert link.health()["refused"] == {"wrong_counter_topic": 1}


def test_a_pad_reads_only_its_own_down_topic(secured: SecureRig, peers: list[Peer]) -> None:
    link, _, broker = secured
    pad = join(peers, broker, "A01-pad", PASS_A).joined()
    pad.subscribe(topic("B02", "B02-pad", "down"))
    pad.subscribe(topic("A01", "A01-pad", "down"))
    encoder = Encoder(boot=1)
    link.send("B02-pad", encoder.ack(DeviceKey("B02-pad", KEY_B), 4, boot=1, seq=9), ack=True)
    mine = encoder.ack(DeviceKey("A01-pad", KEY_A), 3, boot=1, seq=1)
    link.send("A01-pad", mine, ack=True)
    msg = pad.message()
    assert (msg.topic, msg.payload) == (topic("A01", "A01-pad", "down"), mine)


def test_the_queue_user_may_publish_reports_and_nothing_else(secured: SecureRig,
                                                             peers: list[Peer]) -> None:
    _, inbox, broker = secured
    system = join(peers, broker, "queue", QUEUE_TOKEN).joined()
    system.publish(f"hall/{HALL}/queue", REPORT)
    system.publish(topic("A01", "A01-pad", "up"), press_frame())  # the broker drops it
    system.publish(f"hall/{HALL}/queue", b'{"counter": "A01", "type": "ticket_called", '
                                         b'"ticket": "T2"}')
    items = until(inbox, lambda i: isinstance(i, QueueReport) and i.ticket == "T2")
    assert [(i.type, i.counter) for i in items if isinstance(i, QueueReport)] == [
        ("service_done", "A01"), ("ticket_called", "A01")]
    assert len(items) == 2


class GeneratedConfBroker(Broker):
    """mosquitto on the generated window-eval.conf, plus what only a test run needs: stay
    this user, log to the log file."""

    def __init__(self, folder: Path, port: int, conf: Path) -> None:
        super().__init__(folder, port)
        self.generated = conf

    def _write_config(self) -> None:
        extra = [f"user {pwd.getpwuid(os.geteuid()).pw_name}", "log_dest stderr",
                 "log_type all", "connection_messages true"]
        self.config.write_text(self.generated.read_text() + "\n".join(extra) + "\n")


def test_mosquitto_runs_on_the_generated_conf(tmp_path: Path, peers: list[Peer]) -> None:
    config = hall_config(free_port())
    out = tmp_path / "broker"
    write_broker_files(config, out)
    broker = GeneratedConfBroker(tmp_path / "run", config.service.mqtt.port,
                                 out / "window-eval.conf")
    broker.start()
    link = MqttLink(config, Clock())
    inbox: Inbox = queue.Queue()
    try:
        link.start(inbox)
        assert link.wait_subscribed(10)
        assert join(peers, broker, None, None).connack().is_failure
        join(peers, broker, "B02-pad", PASS_B).joined()
        # Another pad taking B02-pad's client id gets its own user name as client id instead.
        thief = join(peers, broker, "A01-pad", PASS_A, client_id="B02-pad").joined()
        thief.publish(topic("A01", "A01-pad", "up"), press_frame())
        assert take(inbox) == MqttFrame("A01-pad", press_frame(), 1_000_000)
        assert "already connected" not in broker.log()
    finally:
        link.stop()
        for peer in peers:
            peer.close()
        peers.clear()
        broker.stop()
    assert (out / "data" / "mosquitto.db").exists()  # persistence_location is used


def mosquitto_client(tool: str) -> str:
    found = shutil.which(tool) or f"/usr/bin/{tool}"
    if not os.access(found, os.X_OK):
        pytest.fail(f"{tool} is not installed: run tools/bootstrap (Debian mosquitto-clients)",
                    pytrace=False)
    return found


def test_the_monitor_account_reads_everything_publishes_nothing_and_leaves_the_agent_on(
        tmp_path: Path, peers: list[Peer]) -> None:
    """troubleshooting.md's mosquitto_sub, with the real clients on the generated conf (which
    makes the user name the client id: watching as `agent` would knock the agent off)."""
    config = hall_config(free_port())
    out = tmp_path / "broker"
    write_broker_files(config, out)
    broker = GeneratedConfBroker(tmp_path / "run", config.service.mqtt.port,
                                 out / "window-eval.conf")
    broker.start()
    link = MqttLink(config, Clock())
    inbox: Inbox = queue.Queue()
    login = ["-h", broker.host, "-p", str(broker.port), "-u", "monitor", "-P",
             (out / "monitor-password").read_text().strip(), "-q", "1"]
    try:
        link.start(inbox)
        assert link.wait_subscribed(10)
        pad = join(peers, broker, "A01-pad", PASS_A).joined()
        pad.publish(topic("A01", "A01-pad", "status"), b"online", retain=True)
        pad.subscribe(topic("A01", "A01-pad", "down"))
        watch = subprocess.Popen([mosquitto_client("mosquitto_sub"), *login, "-F", "%t %x",
                                  "-C", "3", "-W", "20", "-t", f"hall/{HALL}/#",
                                  "-t", "$SYS/broker/version"], stdout=subprocess.PIPE, text=True)
        assert watch.stdout is not None
        first = [watch.stdout.readline().strip(), watch.stdout.readline().strip()]
        assert sorted(line.split(" ")[0] for line in first) == [
            "$SYS/broker/version", topic("A01", "A01-pad", "status")]  # retained: subscribed
        ack = Encoder(boot=1).ack(DeviceKey("A01-pad", KEY_A), 3, boot=1, seq=1)
        assert link.send("A01-pad", ack, ack=True)  # the agent's own traffic shows too
        assert watch.wait(20) == 0
        assert watch.stdout.read() == f"{topic('A01', 'A01-pad', 'down')} {ack.hex()}\n"
        for where, body in [(f"hall/{HALL}/queue", REPORT.decode()),
                            (topic("A01", "A01-pad", "down"), "forged"),
                            (topic("A01", "A01-pad", "up"), "x" * 30)]:
            subprocess.run([mosquitto_client("mosquitto_pub"), *login, "-t", where, "-m", body],
                           check=True, capture_output=True, timeout=20)  # dropped by the ACL
        marker = press_frame(seq=2)
        pad.publish(topic("A01", "A01-pad", "up"), marker)
        # The monitor's report and frame were published (and PUBACKed) before the marker:
        # the agent heard nothing but the pad's status and the marker.
        heard = until(inbox, is_frame(marker))
        assert [type(i) for i in heard] == [LinkState, MqttFrame]
        assert isinstance(heard[-1], MqttFrame) and heard[-1].payload == marker
        assert pad.message().payload == ack  # and nothing of the monitor's after it
        assert pad.messages.empty()
        health = link.health()
        assert health["connected"] and health["connects"] == 1 and health["queue_in"] == 0
        assert health["refused"] == {}
        assert "already connected" not in broker.log()
    finally:
        link.stop()
        for peer in peers:
            peer.close()
        peers.clear()
        broker.stop()

"""The hall's mosquitto files, generated from the hall config: `passwd`, `acl` and
`window-eval.conf` (docs/protocol.md, Links: MQTT).

Users: the agent ([mqtt] user/password) reads and writes all of hall/<hall>/#; each pad on
link "mqtt" logs in as its device id with the password derived from its key
(edge_agent.wire.keys.mqtt_password, as tools/provision writes it into the pad's config.json)
and may publish only its own up and status topics and read its own down topic; the queue
system logs in as "queue" with the [hook] token and may only publish hall/<hall>/queue (and
read the agent's answers on hall/<hall>/queue/answer). A technician watches the broker as
"monitor" (read-only: hall/<hall>/# and $SYS/#, no publishing), with the password written to
DIR/monitor-password: watching never takes the agent's client id (the listener makes the user
name the client id), so it cannot knock the agent off the broker.

`window-eval.conf` is a whole broker configuration (`mosquitto -c DIR/window-eval.conf`), not
a drop-in for /etc/mosquitto/conf.d: it sets persistence_location, which Debian's
mosquitto.conf sets too, and mosquitto refuses a duplicate. Its listener forces the client id
to the user name, so no pad can take over another's session by reusing its client id.

Every file is replaced atomically with mode 0600. mosquitto reads them as its own user, so
run with `--owner mosquitto` (as root) or keep the owner of the files being replaced.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import pwd
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from edge_agent.config import ConfigError, HallConfig, load_config
from edge_agent.durable_files import Owner, write_atomic
from edge_agent.wire.keys import mqtt_password

QUEUE_USER = "queue"
MONITOR_USER = "monitor"
MONITOR_NAME = "monitor-password"
MONITOR_LABEL = b"window-eval/mqtt-monitor/v1"
CONF_NAME = "window-eval.conf"
PASSWD_NAME = "passwd"
ACL_NAME = "acl"
DATA_DIR = "data"
AUTOSAVE_S = 10
# mosquitto_passwd's own choices (mosquitto 2.0: `$7$` = PBKDF2-HMAC-SHA512).
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
HASH_BYTES = 64
# A user name goes into `user:hash` lines and ACL patterns: no separator, wildcard or space.
_USER = re.compile(r"^[^:+#/\s]{1,64}$")
EXIT_OK = 0
EXIT_BAD = 2


class BrokerFilesError(ValueError):
    """The hall config cannot give the broker's files; the message names the key."""


def password_line(user: str, password: str, salt: bytes | None = None,
                  iterations: int = PBKDF2_ITERATIONS) -> str:
    """One line of a mosquitto 2 password file: user:$7$<iterations>$<b64 salt>$<b64 hash>."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    b64 = base64.b64encode
    return f"{user}:$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def broker_users(config: HallConfig) -> dict[str, str]:
    """Every broker user and its password: the agent, the queue system (if the hook is on),
    each MQTT pad."""
    mqtt = config.service.mqtt
    if not _USER.match(mqtt.user):
        raise BrokerFilesError(f"[mqtt] user: {mqtt.user!r} cannot be a broker user name "
                               "(1-64 characters, none of : + # / or spaces)")
    if mqtt.user in (QUEUE_USER, MONITOR_USER):
        whose = "the queue system's" if mqtt.user == QUEUE_USER else "the read-only monitor"
        raise BrokerFilesError(f"[mqtt] user: {mqtt.user!r} is {whose} user")
    if not mqtt.password:
        raise BrokerFilesError("[mqtt] password: required to write the broker's password file "
                               "(the agent logs in with it)")
    users = {mqtt.user: mqtt.password, MONITOR_USER: monitor_password(mqtt.password)}
    if config.service.hook.token:
        users[QUEUE_USER] = config.service.hook.token
    for device, password in _pad_passwords(config).items():
        if device in users or device == QUEUE_USER:
            whose = {QUEUE_USER: "the queue system", MONITOR_USER: "the read-only monitor"
                     }.get(device, "the agent ([mqtt] user)")
            raise BrokerFilesError(f"[devices.{device}]: {device!r} is already the broker user "
                                   f"of {whose}; rename the device")
        users[device] = password
    return users


def monitor_password(agent_password: str) -> str:
    """The read-only monitor's password: derived from the agent's (so running broker-files
    again keeps it), 32 hex digits; the agent's password cannot be had from it."""
    return hmac.new(agent_password.encode(), MONITOR_LABEL, hashlib.sha256).hexdigest()[:32]


def _pad_passwords(config: HallConfig) -> dict[str, str]:
    out = {}
    for device in sorted(config.devices.values(), key=lambda d: d.id):
        if device.link != "mqtt":
            continue
        if device.key is None:
            raise BrokerFilesError(f"[devices.{device.id}] key: missing; a device on link "
                                   "\"mqtt\" needs its key (its broker password is derived "
                                   "from it): run tools/provision")
        out[device.id] = mqtt_password(device.key.hex())
    return out


def passwd_text(users: dict[str, str]) -> str:
    return "".join(password_line(user, password) + "\n" for user, password in users.items())


def acl_text(config: HallConfig) -> str:
    hall, agent = config.hall_id, config.service.mqtt.user
    lines = [
        "# Generated by `python -m edge_agent broker-files`: edit the hall config, not this.",
        "# Pads: user = device id (the listener makes it the client id too).",
        f"pattern write hall/{hall}/+/%u/up",
        f"pattern write hall/{hall}/+/%u/status",
        f"pattern read hall/{hall}/+/%u/down",
        "",
        f"user {agent}",
        f"topic readwrite hall/{hall}/#",
    ]
    if config.service.hook.token:
        lines += ["", f"user {QUEUE_USER}", f"topic write hall/{hall}/queue",
                  f"topic read hall/{hall}/queue/answer"]
    lines += ["", f"# A technician's read-only view (troubleshooting.md): {MONITOR_NAME}.",
              f"user {MONITOR_USER}", f"topic read hall/{hall}/#", "topic read $SYS/#"]
    return "\n".join(lines) + "\n"


def conf_text(config: HallConfig, out: Path) -> str:
    mqtt = config.service.mqtt
    lines = [
        f"# mosquitto configuration of hall {config.hall_id}, generated by",
        "# `python -m edge_agent broker-files`. A whole configuration: mosquitto -c THIS_FILE.",
    ]
    if mqtt.host in ("127.0.0.1", "localhost", "::1"):
        lines.append("# [mqtt] host is a loopback address: Wi-Fi pads cannot reach it.")
    lines += [
        "per_listener_settings false",
        f"listener {mqtt.port} {mqtt.host}",
        "use_username_as_clientid true",
        "allow_anonymous false",
        f"password_file {out / PASSWD_NAME}",
        f"acl_file {out / ACL_NAME}",
        "persistence true",
        f"autosave_interval {AUTOSAVE_S}",
        # mosquitto leaves Nagle on by default: ~40 ms stalls on small QoS 1 frames.
        "set_tcp_nodelay true",
        f"persistence_location {out / DATA_DIR}/",
    ]
    return "\n".join(lines) + "\n"


def write_broker_files(config: HallConfig, out: Path, owner: Owner | None = None) -> list[Path]:
    """Writes passwd, acl and window-eval.conf into `out` (created, and its data folder for
    the broker's persistence); returns the files written."""
    out = out.absolute()
    if re.search(r"\s", str(out)):
        raise BrokerFilesError(f"--out {out}: mosquitto's config cannot name a path with spaces")
    users = broker_users(config)
    texts = {PASSWD_NAME: passwd_text(users), ACL_NAME: acl_text(config),
             CONF_NAME: conf_text(config, out), MONITOR_NAME: users[MONITOR_USER] + "\n"}
    for folder in (out, out / DATA_DIR):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if owner is not None:
            os.chown(folder, owner.uid, owner.gid)
    paths = []
    for name, text in texts.items():
        path = out / name
        # A replaced file keeps its owner: the broker's user must still read it.
        kept = owner or (Owner.of(path) if path.exists() else None)
        write_atomic(path, text.encode(), 0o600, kept)
        paths.append(path)
    return paths


def owner_of(name: str) -> Owner:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise BrokerFilesError(f"--owner {name}: no such user") from None
    return Owner(entry.pw_uid, entry.pw_gid)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m edge_agent broker-files",
        description="Write mosquitto's passwd, acl and window-eval.conf for the hall.")
    p.add_argument("--config", required=True, type=Path, metavar="HALL.toml")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="where to write them (default: [mqtt] broker_dir of the hall file)")
    p.add_argument("--owner", metavar="USER",
                   help="owner of the files (the broker's user, e.g. mosquitto; needs root)")
    return p


def broker_files_main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage and the error
        return exc.code if isinstance(exc.code, int) else EXIT_BAD
    try:
        config = load_config(args.config)
        out = args.out if args.out is not None else _configured_dir(config)
        owner = owner_of(args.owner) if args.owner else None
        paths = write_broker_files(config, out, owner)
    except (ConfigError, BrokerFilesError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{exc.filename or args.out}: cannot write: {exc.strerror or exc}")
    for path in paths:
        print(path)
    return EXIT_OK


def _configured_dir(config: HallConfig) -> Path:
    if not config.service.mqtt.broker_dir:
        raise BrokerFilesError("no --out given and [mqtt] broker_dir is not set in the hall file")
    return config.path(config.service.mqtt.broker_dir)


def _fail(message: str) -> int:
    print(f"edge_agent broker-files: error: {message}", file=sys.stderr)
    return EXIT_BAD

"""Provision a device: key, the board's config.json, and its table in the hall TOML.

A pad or sign gets a fresh 32-byte HMAC key, a ``config.json`` for its firmware and a
``[devices."ID"]`` table appended to the hall config; a staff keypad or badge reader
(evdev) is only registered. The hall file is never reformatted: the new table is
appended, ``--rotate-key`` rewrites one value in place, and every change is checked by
re-parsing with ``tomllib`` and loading with the agent's own config loader before the file
is atomically replaced (tools/provisioning/: the device, the hall file's checks, the TOML
edits, the board's files, mpremote).

The hall file is written last, after config.json and (with ``--mpremote``) the copy to
the board, so a failed copy leaves nothing registered and the same command can simply
be run again.

A pad or sign also gets its glyph files (font16.bin, font32.bin: every caption, counter
name and staff name of the hall file, rendered by tools/glyphfile.py) and display.json
(its kind, keys, counter name and the hall's captions), written beside config.json and into
``pad-font/`` beside the hall file, where the agent reads which characters the pads have.
After a staff change, ``--refresh-display`` rebuilds and copies them to a registered board.

The MQTT password is not stored in the hall file (its device keys are fixed); it is
derived from the device key by ``mqtt_password()``, so whoever writes the broker's
password file can recompute it from the hall config alone.

Exit status: 0 done, 1 a step failed (I/O, mpremote), 2 bad input or refused.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from edge_agent.wire.keys import mqtt_password as mqtt_password  # re-exported: tests use it
from tools.provisioning.board import (
    board_config,
    firmware_sources,
    write_config,
    write_display_files,
)
from tools.provisioning.device import (
    KEYED_KINDS,
    KINDS,
    LINKS,
    SERIAL_LINKS,
    Device,
    Network,
    ProvisionError,
)
from tools.provisioning.hall_file import (
    check_conflicts,
    check_loads,
    commit_hall,
    existing_devices,
    hall_id,
    load_hall,
)
from tools.provisioning.mpremote import MPREMOTE_ENV, mpremote_argv, mpremote_command, run_mpremote
from tools.provisioning.toml_edit import append_device, replace_key, verify_edit

REPO = Path(__file__).resolve().parent.parent
ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
BOARDS = ("pico", "pico_w", "esp32")
WIFI_BOARDS = ("pico_w", "esp32")
KEY_BYTES = 32
WIFI_PASSWORD_ENV = "WE_WIFI_PASSWORD"
EXAMPLES = """\
examples (run on the hall's Pi, or anywhere with a copy of the hall config):
  tools/provision -c hall.toml --device A01-pad --counter A01 --keys 2 --board pico \\
      --link usb --serial-port /dev/serial/by-id/usb-MicroPython_Board_in_FS_mode_e6614c31-if00
  tools/provision -c hall.toml --device B03-pad --counter B03 --keys 5 --board pico \\
      --link rs485 --address 3 --serial-port /dev/serial/by-id/usb-FTDI_FT232R_A10K1234-if00-port0
  WE_WIFI_PASSWORD=... tools/provision -c hall.toml --device C07-pad --counter C07 \\
      --keys 5 --board pico_w --link mqtt --wifi-ssid HALL-IOT --mqtt-host 192.168.10.2
  tools/provision -c hall.toml --device A01-pad --board pico --rotate-key \\
      --mpremote --port /dev/ttyACM0 --with-firmware

exit status: 0 done, 1 a step failed (nothing registered), 2 bad input or refused
"""


# ---------------------------------------------------------------- argument types


def _id_arg(what: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not ID_RE.fullmatch(value):
            raise argparse.ArgumentTypeError(
                f"{value!r} is not a valid {what} (1-32 of A-Z a-z 0-9 _ -)"
            )
        return value

    return parse


def _address_arg(value: str) -> int:
    try:
        address = int(value, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 1 <= address <= 247:
        raise argparse.ArgumentTypeError(
            f"{address} is out of range: RS-485 addresses are 1..247 (0 is reserved)"
        )
    return address


def _tcp_port_arg(value: str) -> int:
    try:
        port = int(value, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (1..65535)")
    return port


def _serial_port_arg(value: str) -> str:
    if not value.startswith("/") or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an absolute device path such as /dev/serial/by-id/usb-..."
        )
    return value


def _ssid_arg(value: str) -> str:
    if not 1 <= len(value.encode("utf-8", "surrogateescape")) <= 32:
        raise argparse.ArgumentTypeError(f"{value!r} is not a Wi-Fi SSID (1-32 bytes)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tools/provision",
        description=(
            "Provision one device of a hall: generate its HMAC key, write the board's "
            "config.json, register it in the hall TOML, and optionally copy the config "
            "(and firmware) to the board with mpremote."
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hall = parser.add_argument_group("hall registration")
    hall.add_argument("-c", "--hall-config", type=Path, required=True, metavar="TOML",
                      help="the hall's TOML config; its [hall] id goes into config.json")
    hall.add_argument("--device", required=True, type=_id_arg("device id"), metavar="ID",
                      help="device id, unique in the hall, e.g. A01-pad")
    hall.add_argument("--counter", type=_id_arg("counter id"), metavar="ID",
                      help="the counter (窗口) the device belongs to, e.g. A01")
    hall.add_argument("--kind", choices=KINDS,
                      help="pad (评价器), sign (暂停服务 board), keypad or badge (staff, "
                           "evdev); default pad")
    hall.add_argument("--link", choices=LINKS,
                      help="usb (USB-CDC to the Pi), rs485 (multi-drop bus), mqtt (Wi-Fi), "
                           "evdev (keypad/badge)")
    hall.add_argument("--serial-port", type=_serial_port_arg, metavar="PATH",
                      help="Pi-side serial device the agent opens (usb/rs485; written as "
                           "port in the hall TOML); prefer /dev/serial/by-id/...")
    hall.add_argument("--input-device", metavar="PATH",
                      help="the keypad's or badge reader's input device the agent opens "
                           "(evdev; written as port in the hall TOML), by "
                           "/dev/input/by-id/...-event-kbd")
    hall.add_argument("--address", type=_address_arg, metavar="N",
                      help="RS-485 bus address 1..247, unique on its port (rs485 only)")
    hall.add_argument("--keys", type=int, choices=(2, 5),
                      help="rating keys on the pad: 2 (满意/不满意) or 5 (非常满意..非常不满意)")
    hall.add_argument("--rotate-key", action="store_true",
                      help="the device is already registered: give it a new key and change "
                           "nothing else (e.g. a replaced board)")
    hall.add_argument("--refresh-display", action="store_true",
                      help="the pad or sign is already registered: rebuild its glyph files "
                           "and display.json from the hall file (after a staff or caption "
                           "change) and change nothing else")

    board = parser.add_argument_group("board config (pad and sign)")
    board.add_argument("--board", choices=BOARDS,
                       help="the microcontroller board; pico_w or esp32 for mqtt")
    board.add_argument("--out", type=Path, metavar="DIR",
                       help="where to write config.json (default build/provision/ID); it "
                            "holds the device key: delete it once the board is done")
    board.add_argument("--show-key", action="store_true",
                       help="also print the device key (never printed otherwise)")

    net = parser.add_argument_group("Wi-Fi and MQTT (link mqtt only)")
    net.add_argument("--wifi-ssid", type=_ssid_arg, metavar="SSID")
    net.add_argument("--wifi-password", metavar="PASSWORD",
                     help=f"WPA2 passphrase; better set {WIFI_PASSWORD_ENV} than put it on "
                          "the command line")
    net.add_argument("--mqtt-host", metavar="HOST", help="the Pi's address on the hall network")
    net.add_argument("--mqtt-port", type=_tcp_port_arg, default=1883, metavar="PORT",
                     help="default 1883")

    flash = parser.add_argument_group("copy to the board")
    flash.add_argument("--mpremote", action="store_true",
                       help="copy config.json to the board with mpremote, then reset it")
    flash.add_argument("--port", default="auto", metavar="PORT",
                       help="mpremote connect target on this machine (default auto)")
    flash.add_argument("--with-firmware", action="store_true",
                       help="also copy the firmware files (needs --mpremote)")
    flash.add_argument("--firmware-dir", type=Path, default=REPO / "firmware", metavar="DIR",
                       help="default: firmware/ of this repository")
    flash.add_argument("--mpremote-cmd", metavar="CMD",
                       help=f"how to run mpremote (default ${MPREMOTE_ENV} or mpremote)")
    return parser


# ---------------------------------------------------------------- the command


def _refuse(message: str) -> NoReturn:
    raise ProvisionError(message)


def _check_option_scope(args: argparse.Namespace, kind: str, link: str) -> None:
    """Refuse options that do not apply to this kind of device or link."""
    scoped = [
        ("--address", args.address, link == "rs485", "--link rs485"),
        ("--serial-port", args.serial_port, link in SERIAL_LINKS, "--link usb or rs485"),
        ("--input-device", args.input_device, link == "evdev", "--link evdev"),
        ("--keys", args.keys, kind == "pad", "--kind pad"),
        ("--board", args.board, kind in KEYED_KINDS, "pads and signs"),
        ("--wifi-ssid", args.wifi_ssid, link == "mqtt", "--link mqtt"),
        ("--wifi-password", args.wifi_password, link == "mqtt", "--link mqtt"),
        ("--mqtt-host", args.mqtt_host, link == "mqtt", "--link mqtt"),
        ("--mpremote", args.mpremote or None, kind in KEYED_KINDS, "pads and signs"),
    ]
    for option, value, applies, scope in scoped:
        if value is not None and not applies:
            _refuse(f"{option} applies to {scope} only")
    if args.with_firmware and not args.mpremote:
        _refuse("--with-firmware needs --mpremote")


def new_key() -> str:
    return secrets.token_bytes(KEY_BYTES).hex()


def new_device(args: argparse.Namespace) -> Device:
    """The device described by the command line (first registration)."""
    kind: str = args.kind or "pad"
    if args.counter is None:
        _refuse("--counter is required")
    if args.link is None:
        _refuse("--link is required (usb, rs485, mqtt or evdev)")
    link: str = args.link
    if (kind in KEYED_KINDS) != (link != "evdev"):
        _refuse(f"--link {link} does not fit --kind {kind}: "
                "keypads and badges use evdev, pads and signs usb, rs485 or mqtt")
    _check_option_scope(args, kind, link)
    if args.refresh_display:
        _refuse(f"--refresh-display: device {args.device!r} is not registered; drop "
                "--refresh-display to add it")
    if link == "rs485" and args.address is None:
        _refuse("--address is required for --link rs485")
    if link == "evdev" and not args.input_device:
        _refuse("--input-device is required for --link evdev: the keypad's or reader's "
                "/dev/input/by-id/...-event-kbd (ls /dev/input/by-id/ with it plugged in)")
    if kind == "pad" and args.keys is None:
        _refuse("--keys is required for a pad (2 or 5)")
    return Device(id=args.device, counter=args.counter, kind=kind, link=link,
                  port=args.serial_port or args.input_device, address=args.address,
                  keys=args.keys, key=new_key() if kind in KEYED_KINDS else None)


def rotated_device(args: argparse.Namespace, table: dict[str, Any]) -> Device:
    """The registered device with a new key; options given must match what is there."""
    given = {"counter": args.counter, "kind": args.kind, "link": args.link,
             "port": args.serial_port or args.input_device, "address": args.address,
             "keys": args.keys}
    for name, value in given.items():
        if value is not None and value != table.get(name):
            option = "--serial-port" if name == "port" else f"--{name}"
            _refuse(f"{option} {value}: {args.device!r} has {name} = {table.get(name)!r}; "
                    "--rotate-key changes only the key")
    if table.get("kind") not in KEYED_KINDS or "key" not in table:
        _refuse(f"--rotate-key: {args.device!r} is a {table.get('kind')} and has no key")
    if not all(isinstance(table.get(name), str) for name in ("counter", "kind", "link")):
        _refuse(f"--rotate-key: [devices.\"{args.device}\"] lacks counter, kind or link; "
                "fix the hall config by hand")
    device = Device(id=args.device, counter=table["counter"], kind=table["kind"],
                    link=table["link"], port=table.get("port"), address=table.get("address"),
                    keys=table.get("keys"), key=new_key())
    _check_option_scope(args, device.kind, device.link)
    return device


def network(args: argparse.Namespace, device: Device) -> Network | None:
    if device.link != "mqtt":
        return None
    password = args.wifi_password or os.environ.get(WIFI_PASSWORD_ENV)
    missing = [name for name, value in (("--wifi-ssid", args.wifi_ssid),
                                        ("--wifi-password", password),
                                        ("--mqtt-host", args.mqtt_host)) if not value]
    if missing:
        _refuse(f"{', '.join(missing)} required for --link mqtt")
    assert password is not None
    if not 8 <= len(password) <= 63:
        _refuse("--wifi-password must be a WPA2 passphrase of 8..63 characters")
    return Network(ssid=args.wifi_ssid, password=password, host=args.mqtt_host,
                   port=args.mqtt_port)


def plan(args: argparse.Namespace, doc: dict[str, Any]) -> Device:
    """Validate the request against the hall config and decide the device's table."""
    devices = existing_devices(doc, args.hall_config)
    table = devices.get(args.device)
    if args.rotate_key:
        if table is None:
            _refuse(f"--rotate-key: device {args.device!r} is not registered in "
                    f"{args.hall_config}; drop --rotate-key to add it")
        device = rotated_device(args, table)
    elif table is not None:
        _refuse(f"--device {args.device}: already registered in {args.hall_config} "
                f"(counter {table.get('counter')}); use --rotate-key to give it a new key")
    else:
        device = new_device(args)
    check_conflicts(device, devices)
    if device.kind in KEYED_KINDS and args.board is None:
        _refuse("--board is required for a pad or sign (pico, pico_w or esp32)")
    if device.link == "mqtt" and args.board not in WIFI_BOARDS:
        _refuse(f"--board {args.board} has no Wi-Fi; --link mqtt needs pico_w or esp32")
    return device


def counter_warnings(doc: dict[str, Any], device: Device, path: Path) -> list[str]:
    out = []
    counters = doc.get("counters")
    if isinstance(counters, dict) and counters and device.counter not in counters:
        out.append(f"warning: counter {device.counter} is not listed under [counters] in {path}")
    scale = doc.get("scale")
    kind = scale.get("kind", "binary") if isinstance(scale, dict) else "binary"
    if device.link in SERIAL_LINKS and not device.port:
        out.append(f"warning: no --serial-port: add port = \"/dev/serial/by-id/...\" to "
                   f"[devices.\"{device.id}\"] once the board is plugged in; check-config and "
                   "run refuse the file until then")
    if device.kind == "pad" and device.keys == 5 and kind == "binary":
        out.append(f"warning: a 5-key pad in a binary hall ([scale] kind in {path}): 非常满意, "
                   "满意 and 基本满意 count as 满意, 不满意 and 非常不满意 as 不满意")
    return out


def refresh_display(args: argparse.Namespace, doc: dict[str, Any]) -> list[str]:
    """--refresh-display: new glyph files and display.json for a registered pad or sign."""
    table = existing_devices(doc, args.hall_config).get(args.device)
    if table is None or table.get("kind", "pad") not in KEYED_KINDS:
        _refuse(f"--refresh-display: {args.device!r} is not a registered pad or sign")
    if args.rotate_key:
        _refuse("--refresh-display and --rotate-key: do one at a time")
    out_dir = args.out or Path("build/provision") / args.device
    files, lines = write_display_files(args.hall_config, doc, table.get("kind", "pad"),
                                       table.get("keys", 2), table.get("counter", ""), out_dir)
    if args.mpremote:
        run_mpremote(mpremote_argv(mpremote_command(args.mpremote_cmd), args.port, None, [],
                                   files), files[0], args.port)
        lines.append(f"  board: display files copied via mpremote ({args.port}), reset")
    return [f"{args.device}: display files rebuilt from {args.hall_config}", *lines]


def provision(args: argparse.Namespace) -> list[str]:
    """Do the work; return the lines of the summary."""
    old_text, doc = load_hall(args.hall_config)
    hall = hall_id(doc, args.hall_config)
    if args.refresh_display:
        return refresh_display(args, doc)
    device = plan(args, doc)
    for warning in counter_warnings(doc, device, args.hall_config):
        print(warning, file=sys.stderr)
    net = network(args, device)
    if args.rotate_key:
        assert device.key is not None
        new_text = replace_key(old_text, device.id, device.key)
        table = doc["devices"][device.id] | {"key": device.key}
    else:
        new_text = append_device(old_text, device)
        table = device.table()
    verify_edit(doc, new_text, device, table)
    for warning in check_loads(args.hall_config, old_text, new_text):
        print(warning, file=sys.stderr)
    firmware = firmware_sources(args.firmware_dir) if args.with_firmware else []

    summary = [f"{device.id}: {_describe(device)}"]
    if device.key is not None:
        out_dir = args.out or Path("build/provision") / device.id
        config_path = write_config(out_dir, board_config(device, hall, args.board, net))
        summary.append(f"  config.json: {config_path} (mode 0600; holds the key, delete it "
                       "when the board is done)")
        display, lines = write_display_files(args.hall_config, doc, device.kind, device.keys or 2,
                                             device.counter, out_dir)
        summary += lines
        if args.mpremote:
            run_mpremote(mpremote_argv(mpremote_command(args.mpremote_cmd), args.port,
                                       config_path, firmware, display), config_path, args.port)
            copied = ("firmware, display files and config.json" if firmware
                      else "display files and config.json")
            summary.append(f"  board: {copied} copied via mpremote ({args.port}), reset")
    commit_hall(args.hall_config, old_text, new_text)
    action = "key replaced" if args.rotate_key else "added"
    summary.append(f"  hall config: {args.hall_config} [devices.\"{device.id}\"] {action}")
    if args.show_key and device.key is not None:
        summary.append(f"  key: {device.key}")
    return summary


def _describe(device: Device) -> str:
    parts = [device.kind, f"counter {device.counter}"]
    if device.keys:
        parts.append(f"{device.keys} keys")
    if device.link == "rs485":
        parts.append(f"rs485 address {device.address}")
    else:
        parts.append(device.link)
    if device.port:
        parts.append(f"on {device.port}")
    return ", ".join(parts)


def _warnings(args: argparse.Namespace) -> list[str]:
    port = args.serial_port or ""
    if re.fullmatch(r"/dev/tty(USB|ACM)\d+", port):
        return [f"warning: {port} may be renumbered at the next boot; "
                "prefer the stable /dev/serial/by-id/... name"]
    return []


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for warning in _warnings(args):
        print(warning, file=sys.stderr)
    try:
        summary = provision(args)
    except ProvisionError as exc:
        print(f"provision: error: {exc}", file=sys.stderr)
        return exc.status
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

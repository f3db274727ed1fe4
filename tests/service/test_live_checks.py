"""check-config and run agree: one path of checks (edge_agent/service/checks.py). Every file
`run` refuses, check-config refuses with the same message naming the file and the key, and
`run` refuses it before it touches anything (no journal, no lock file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent import cli
from edge_agent.config import ConfigError, DeviceConfig, HallConfig
from edge_agent.service.checks import FRAME_LINKS, check_live
from edge_agent.service.devices import DeviceTable
from edge_agent.service.evdev_link import evdev_links
from edge_agent.service.serial_link import serial_links
from edge_agent.wire import SeqGuard

ROOT = Path(__file__).resolve().parents[2]
KEY = "ab" * 32
HEAD = '[hall]\nid = "h1"\n[agent]\nstatus_listen = ""\n'

BAD = [
    ('[devices.A01-pad]\ncounter = "A01"\nlink = "usb"\nkey = "{KEY}"\n',
     "[devices.A01-pad] port: missing; a usb device needs its serial port"),
    ('[devices.A01-badge]\ncounter = "A01"\nkind = "badge"\nlink = "evdev"\n',
     "[devices.A01-badge] port: missing; link evdev needs the device's input path"),
    ('[devices.A01-pad]\ncounter = "A01"\nlink = "usb"\nport = "/dev/ttyACM0"\n',
     "[devices.A01-pad] key: missing; a pad on link usb seals its frames with its key"),
    ('[devices.A01-pad]\ncounter = "A01"\nlink = "mqtt"\n',
     "[devices.A01-pad] key: missing; a pad on link mqtt"),
    ('[devices.A01-sign]\ncounter = "A01"\nkind = "sign"\nlink = "rs485"\nport = "/dev/ttyUSB0"\n'
     'address = 2\n', "[devices.A01-sign] key: missing; a sign on link rs485"),
    ('[devices.A01-kp]\ncounter = "A01"\nkind = "keypad"\nlink = "usb"\nport = "/dev/x"\n',
     "[devices.A01-kp] link: a keypad is a USB keyboard device: use link evdev"),
    ('[devices.A01-sign]\ncounter = "A01"\nkind = "sign"\nlink = "evdev"\nport = "/dev/i"\n',
     "[devices.A01-sign] link: a sign cannot use link evdev"),
    ('[devices.A01-pad]\ncounter = "A01"\nlink = "usb"\nport = "/dev/x"\nkey = "{KEY}"\n'
     '[devices.A02-pad]\ncounter = "A02"\nlink = "usb"\nport = "/dev/x"\nkey = "{KEY}"\n',
     "[devices.A02-pad] port: /dev/x is a usb port and carries one device"),
    ('[devices.A01-pad]\ncounter = "A01"\nlink = "usb"\nport = "/dev/x"\nkey = "{KEY}"\n'
     '[devices.A02-pad]\ncounter = "A02"\nlink = "rs485"\nport = "/dev/x"\naddress = 2\n'
     'key = "{KEY}"\n', "port: /dev/x has devices A01-pad, A02-pad, which must all be usb"),
    ('[devices.A01-kp]\ncounter = "A01"\nkind = "keypad"\nlink = "evdev"\nport = "/dev/i"\n'
     '[devices.A01-bd]\ncounter = "A01"\nkind = "badge"\nlink = "evdev"\nport = "/dev/i"\n',
     "[devices.A01-kp] port: /dev/i is already device A01-bd's"),
    ('[devices.A01-pad]\ncounter = "A01"\nlink = "mqtt"\nport = "/dev/x"\nkey = "{KEY}"\n',
     "[devices.A01-pad] port: an mqtt device has no port"),
    ('[devices.A01-pad]\ncounter = "A01"\nlink = "usb"\nport = "/dev/x"\naddress = 300\n'
     'key = "{KEY}"\n', "[devices.A01-pad] address: must be 1..247, got 300"),
]


@pytest.mark.parametrize(("devices", "message"), BAD)
def test_what_run_refuses_check_config_refuses_with_the_same_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], devices: str, message: str) -> None:
    hall = tmp_path / "hall.toml"
    hall.write_text(HEAD + devices.replace("{KEY}", KEY))
    assert cli.main(["check-config", str(hall)]) == 2
    checked = capsys.readouterr().err
    assert checked.startswith(f"edge_agent: error: {hall}: ") and message in checked
    run = subprocess.run([sys.executable, "-m", "edge_agent", "run", "--config", str(hall)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (run.returncode, run.stderr) == (2, checked)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hall.toml"]  # nothing touched


def test_a_five_key_pad_in_a_binary_hall_is_a_warning_at_check_config(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hall = tmp_path / "hall.toml"
    hall.write_text(HEAD + f'[devices.A01-pad]\ncounter = "A01"\nlink = "mqtt"\nkeys = 5\n'
                           f'key = "{KEY}"\n')
    assert cli.main(["check-config", str(hall)]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("ok: hall h1")
    assert out.err == (f"warning: {hall}: [devices.A01-pad] keys: a 5-key pad in a binary hall "
                       "([scale] kind): 非常满意, 满意 and 基本满意 count as 满意, 不满意 and "
                       "非常不满意 as 不满意\n")


DEVICE = st.builds(
    lambda kind, link, port, address, key, keys: (kind, link, port, address, key, keys),
    st.sampled_from(("pad", "sign", "keypad", "badge")),
    st.sampled_from(("usb", "rs485", "mqtt", "evdev")),
    st.sampled_from((None, "/dev/a", "/dev/b")),
    st.sampled_from((None, 1, 2, 300)),
    st.booleans(), st.sampled_from((2, 5)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(DEVICE, max_size=4))
def test_a_file_check_live_passes_builds_every_link_and_a_decoder_for_every_pad(
        specs: list[tuple[str, str, str | None, int | None, bool, int]]) -> None:
    devices = {f"d{i}": DeviceConfig(id=f"d{i}", counter="A01", kind=kind, link=link,
                                     port=port, address=address, keys=keys,
                                     key=bytes(32) if key else None)
               for i, (kind, link, port, address, key, keys) in enumerate(specs)}
    config = HallConfig(hall_id="h1", devices=devices)
    try:
        check_live(config)
    except ConfigError:
        return  # refused by check-config: run refuses it the same way (above)
    serial_links(config, lambda: 0, 1)  # run builds these: no ConfigError left for it
    evdev_links(config, lambda: 0)
    table = DeviceTable(config, SeqGuard())
    for d in devices.values():
        if d.link in FRAME_LINKS:
            decoder = (table.mqtt_decoder(d.id) if d.link == "mqtt"
                       else table.serial_decoder(d.port or ""))
            assert decoder is not None, d  # never `unknown_port` for a configured pad

"""tools/provision: hall TOML registration, config.json, and the mpremote call."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from edge_agent.config import load_config
from tools import provision

REPO = Path(__file__).resolve().parents[2]

HALL = """\
# Hall config, hand-written; provisioning must not touch these lines.
[hall]
id = "gz-tianhe-01"   # 天河区政务服务中心
timezone = "Asia/Shanghai"

[counters.A01]
name = "综合窗口 1"

[devices."B01-keypad"]
counter = "B01"
kind = "keypad"
link = "evdev"
"""

BUS = "/dev/serial/by-id/usb-FTDI_FT232R_A10K1234-if00-port0"


@pytest.fixture
def hall(tmp_path: Path) -> Path:
    path = tmp_path / "hall.toml"
    path.write_text(HALL, encoding="utf-8")
    path.chmod(0o640)
    return path


def run(hall: Path, *args: str) -> int:
    """Run the command in-process; argparse's own refusals come back as their status."""
    try:
        return provision.main(["--hall-config", str(hall), *args])
    except SystemExit as exc:
        assert isinstance(exc.code, int)
        return exc.code


def pad(device: str, counter: str, out: Path, *extra: str) -> list[str]:
    return ["--device", device, "--counter", counter, "--keys", "2", "--board", "pico",
            "--out", str(out), *extra]


def rs485(address: int, port: str = BUS) -> list[str]:
    return ["--link", "rs485", "--address", str(address), "--serial-port", port]


def devices(hall: Path) -> dict[str, Any]:
    with hall.open("rb") as f:
        result: dict[str, Any] = tomllib.load(f)["devices"]
    return result


def read_config(out: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((out / "config.json").read_text(encoding="utf-8"))
    return result


def test_round_trip_two_devices(hall: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    assert run(hall, *pad("A01-pad", "A01", out_a, "--link", "usb",
                          "--serial-port", "/dev/serial/by-id/usb-MicroPython-if00")) == 0
    assert run(hall, "--device", "A02-pad", "--counter", "A02", "--keys", "5",
               "--board", "esp32", "--out", str(out_b), *rs485(3)) == 0

    text = hall.read_text(encoding="utf-8")
    assert text.startswith(HALL), "existing lines must be kept byte for byte"
    found = devices(hall)
    assert set(found) == {"B01-keypad", "A01-pad", "A02-pad"}
    a, b = found["A01-pad"], found["A02-pad"]
    assert a == {"counter": "A01", "kind": "pad", "link": "usb",
                 "port": "/dev/serial/by-id/usb-MicroPython-if00", "keys": 2, "key": a["key"]}
    assert b == {"counter": "A02", "kind": "pad", "link": "rs485", "port": BUS,
                 "address": 3, "keys": 5, "key": b["key"]}
    assert len(bytes.fromhex(a["key"])) == 32 and a["key"] != b["key"]

    config_a, config_b = read_config(out_a), read_config(out_b)
    assert config_a == {"device": "A01-pad", "counter": "A01", "hall": "gz-tianhe-01",
                        "address": 1, "keys": 2, "key": a["key"], "link": "usb",
                        "board": "pico"}
    assert config_b == {"device": "A02-pad", "counter": "A02", "hall": "gz-tianhe-01",
                        "address": 3, "keys": 5, "key": b["key"], "link": "rs485",
                        "board": "esp32"}
    assert stat.S_IMODE((out_a / "config.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(hall.stat().st_mode) == 0o640
    assert a["key"] not in capsys.readouterr().out


def test_agent_config_loader_accepts_the_result(hall: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WE_WIFI_PASSWORD", "hall-wifi-secret")
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a"), *rs485(1)) == 0
    assert run(hall, "--device", "A01-sign", "--counter", "A01", "--kind", "sign",
               "--board", "pico", "--out", str(tmp_path / "s"), *rs485(2)) == 0
    assert run(hall, *pad("A02-pad", "A02", tmp_path / "b", "--link", "usb")) == 0
    assert run(hall, "--device", "A03-pad", "--counter", "A03", "--keys", "5",
               "--board", "esp32", "--out", str(tmp_path / "c"), "--link", "mqtt",
               "--wifi-ssid", "HALL-IOT", "--mqtt-host", "192.168.10.2") == 0
    assert run(hall, "--device", "A01-pad", "--rotate-key", "--board", "pico",
               "--out", str(tmp_path / "a")) == 0
    config = load_config(hall)
    assert config.hall_id == "gz-tianhe-01"
    assert set(config.devices) == {"B01-keypad", "A01-pad", "A01-sign", "A02-pad", "A03-pad"}
    pad_a01 = config.devices["A01-pad"]
    assert (pad_a01.link, pad_a01.port, pad_a01.address) == ("rs485", BUS, 1)
    assert pad_a01.key == bytes.fromhex(read_config(tmp_path / "a")["key"])


def test_mqtt_pad_config(hall: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WE_WIFI_PASSWORD", "hall-wifi-secret")
    out = tmp_path / "c"
    assert run(hall, "--device", "C07-pad", "--counter", "C07", "--keys", "5",
               "--board", "pico_w", "--out", str(out), "--link", "mqtt",
               "--wifi-ssid", "HALL-IOT", "--mqtt-host", "192.168.10.2") == 0
    table = devices(hall)["C07-pad"]
    assert table == {"counter": "C07", "kind": "pad", "link": "mqtt", "keys": 5,
                     "key": table["key"]}
    config = read_config(out)
    assert config["wifi"] == {"ssid": "HALL-IOT", "password": "hall-wifi-secret"}
    assert config["mqtt"] == {"host": "192.168.10.2", "port": 1883, "user": "C07-pad",
                              "password": provision.mqtt_password(table["key"])}


def test_unknown_counter_is_only_a_warning(hall: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert run(hall, *pad("Z09-pad", "Z09", tmp_path / "z", "--link", "usb")) == 0
    assert "Z09" in capsys.readouterr().err


def test_show_key_prints_it(hall: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a", "--link", "usb"),
               "--show-key") == 0
    assert devices(hall)["A01-pad"]["key"] in capsys.readouterr().out


def test_duplicate_id_refused(hall: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a", "--link", "usb")) == 0
    before = hall.read_bytes()
    capsys.readouterr()
    assert run(hall, *pad("A01-pad", "A09", tmp_path / "b", "--link", "usb")) == 2
    assert hall.read_bytes() == before
    assert not (tmp_path / "b").exists()
    err = capsys.readouterr().err
    assert "A01-pad" in err and "already registered" in err and "Traceback" not in err


@pytest.mark.parametrize("address", ["0", "248", "-1", "three"])
def test_bad_address_refused(hall: Path, tmp_path: Path, address: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    args = pad("A01-pad", "A01", tmp_path / "a", "--link", "rs485", "--address", address)
    assert run(hall, *args) == 2
    assert hall.read_text(encoding="utf-8") == HALL
    err = capsys.readouterr().err
    assert "--address" in err and address in err and "Traceback" not in err


@pytest.mark.parametrize(("args", "named"), [
    (["--device", "A 01", "--counter", "A01"], "--device"),
    (["--device", "x" * 33, "--counter", "A01"], "--device"),
    (["--device", "A01-pad", "--counter", "A01/2"], "--counter"),
    (["--device", "A01-pad", "--counter", "A01", "--keys", "3"], "--keys"),
])
def test_bad_ids_and_keys_refused(hall: Path, args: list[str], named: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert run(hall, *args, "--link", "usb", "--board", "pico") == 2
    assert named in capsys.readouterr().err
    assert hall.read_text(encoding="utf-8") == HALL


@pytest.mark.parametrize(("args", "named"), [
    (["--link", "rs485", "--serial-port", BUS], "--address"),
    (["--link", "usb", "--address", "4"], "--address"),
    (["--link", "mqtt", "--wifi-ssid", "HALL-IOT", "--mqtt-host", "10.0.0.2",
      "--wifi-password", "12345678"], "--board"),
    (["--link", "evdev"], "--link"),
    (["--link", "usb", "--with-firmware"], "--mpremote"),
])
def test_inconsistent_options_refused(hall: Path, tmp_path: Path, args: list[str], named: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a"), *args) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err
    assert hall.read_text(encoding="utf-8") == HALL


def test_duplicate_rs485_address_on_same_port_refused(
        hall: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a"), *rs485(3)) == 0
    before = hall.read_bytes()
    assert run(hall, *pad("A02-pad", "A02", tmp_path / "b"), *rs485(3)) == 2
    assert hall.read_bytes() == before
    err = capsys.readouterr().err
    assert "--address 3" in err and "A01-pad" in err
    # The same address on another bus is fine.
    other_bus = "/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0"
    assert run(hall, *pad("A02-pad", "A02", tmp_path / "b"), *rs485(3, other_bus)) == 0


def test_usb_port_shared_with_another_device_refused(hall: Path, tmp_path: Path) -> None:
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a"), *rs485(3)) == 0
    assert run(hall, *pad("A02-pad", "A02", tmp_path / "b"),
               "--link", "usb", "--serial-port", BUS) == 2


def test_rotate_key_changes_only_that_key(hall: Path, tmp_path: Path) -> None:
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a"), *rs485(3)) == 0
    assert run(hall, *pad("A02-pad", "A02", tmp_path / "b"), *rs485(4)) == 0
    before_text, before = hall.read_text(encoding="utf-8"), devices(hall)

    out = tmp_path / "new"
    assert run(hall, "--device", "A01-pad", "--rotate-key", "--board", "pico",
               "--out", str(out)) == 0

    after_text, after = hall.read_text(encoding="utf-8"), devices(hall)
    assert after["A01-pad"]["key"] != before["A01-pad"]["key"]
    assert after == before | {"A01-pad": before["A01-pad"] | {"key": after["A01-pad"]["key"]}}
    changed = [(old, new) for old, new in zip(before_text.splitlines(),
                                              after_text.splitlines(), strict=True)
               if old != new]
    assert changed == [(f'key = "{before["A01-pad"]["key"]}"',
                        f'key = "{after["A01-pad"]["key"]}"')]
    assert read_config(out)["key"] == after["A01-pad"]["key"]
    assert read_config(out)["address"] == 3


def test_rotate_key_refuses_unknown_device_and_changed_fields(
        hall: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(hall, "--device", "Z99-pad", "--rotate-key", "--board", "pico") == 2
    assert "not registered" in capsys.readouterr().err
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a"), *rs485(3)) == 0
    before = hall.read_bytes()
    assert run(hall, "--device", "A01-pad", "--rotate-key", "--board", "pico",
               "--address", "5") == 2
    assert "--address 5" in capsys.readouterr().err
    assert run(hall, "--device", "B01-keypad", "--rotate-key") == 2
    assert "has no key" in capsys.readouterr().err
    assert hall.read_bytes() == before


def test_keypad_registered_without_key_or_config(hall: Path, tmp_path: Path) -> None:
    out = tmp_path / "k"
    reader = "/dev/input/by-id/usb-RFID_Reader-event-kbd"
    assert run(hall, "--device", "A01-badge", "--counter", "A01", "--kind", "badge",
               "--link", "evdev", "--input-device", reader, "--out", str(out)) == 0
    assert devices(hall)["A01-badge"] == {"counter": "A01", "kind": "badge", "link": "evdev",
                                          "port": reader}
    assert not out.exists()


def test_an_evdev_device_needs_its_input_device_and_its_own(
        hall: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = hall.read_bytes()
    badge = ["--device", "A01-badge", "--counter", "A01", "--kind", "badge", "--link", "evdev"]
    assert run(hall, *badge) == 2
    assert "--input-device is required for --link evdev" in capsys.readouterr().err
    assert hall.read_bytes() == before
    assert run(hall, *badge, "--input-device", "/dev/input/by-id/kbd") == 0
    assert run(hall, "--device", "A02-kp", "--counter", "A02", "--kind", "keypad", "--link",
               "evdev", "--input-device", "/dev/input/by-id/kbd") == 2
    assert "/dev/input/by-id/kbd is already used by device 'A01-badge'" in \
        capsys.readouterr().err


def test_a_five_key_pad_in_a_binary_hall_is_a_warning(
        hall: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(hall, "--device", "A01-pad", "--counter", "A01", "--keys", "5", "--board",
               "pico", "--out", str(tmp_path / "p"), "--link", "usb", "--serial-port",
               "/dev/serial/by-id/usb-pico-1") == 0
    assert "warning: a 5-key pad in a binary hall" in capsys.readouterr().err


def test_hall_without_id_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hall = tmp_path / "hall.toml"
    hall.write_text("[agent]\n", encoding="utf-8")
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a", "--link", "usb")) == 2
    assert "[hall] id" in capsys.readouterr().err


def test_missing_trailing_newline_and_crlf_kept(tmp_path: Path) -> None:
    hall = tmp_path / "hall.toml"
    original = '[hall]\r\nid = "h1"'
    hall.write_bytes(original.encode())
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a", "--link", "usb")) == 0
    data = hall.read_bytes()
    assert data.startswith(original.encode() + b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert "A01-pad" in devices(hall)


# ---------------------------------------------------------------- mpremote

FAKE_MPREMOTE = """\
import json, os, sys
with open(os.environ["FAKE_MPREMOTE_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
sys.exit(int(os.environ.get("FAKE_MPREMOTE_STATUS", "0")))
"""


@pytest.fixture
def fake_mpremote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "mpremote"
    script.write_text(f"#!{sys.executable}\n{FAKE_MPREMOTE}", encoding="utf-8")
    script.chmod(0o755)
    log = tmp_path / "mpremote.log"
    monkeypatch.setenv("FAKE_MPREMOTE_LOG", str(log))
    monkeypatch.setenv("WE_MPREMOTE", str(script))
    return log


def display_copies(out: Path) -> list[str]:
    argv = []
    for name in ("font16.bin", "font32.bin", "display.json"):
        argv += ["fs", "cp", str(out / name), f":{name}", "+"]
    return argv


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def test_mpremote_copies_config(hall: Path, tmp_path: Path, fake_mpremote: Path) -> None:
    out = tmp_path / "a"
    assert run(hall, *pad("A01-pad", "A01", out, "--link", "usb"),
               "--mpremote", "--port", "/dev/ttyACM0") == 0
    assert calls(fake_mpremote) == [
        ["connect", "/dev/ttyACM0", *display_copies(out), "fs", "cp", str(out / "config.json"),
         ":config.json", "+", "reset"],
    ]


def test_mpremote_with_firmware(hall: Path, tmp_path: Path, fake_mpremote: Path) -> None:
    firmware = tmp_path / "firmware"
    (firmware / "lib").mkdir(parents=True)
    (firmware / "tests").mkdir()
    (firmware / "__pycache__").mkdir()
    for name in ("main.py", "lib/frame.py", "tests/test_frame.py", "README.md"):
        (firmware / name).write_text("", encoding="utf-8")
    out = tmp_path / "a"
    assert run(hall, *pad("A01-pad", "A01", out, "--link", "usb"), "--mpremote",
               "--with-firmware", "--firmware-dir", str(firmware)) == 0
    assert calls(fake_mpremote) == [
        ["connect", "auto", "fs", "cp", "-r", str(firmware / "lib"), str(firmware / "main.py"),
         ":", "+", *display_copies(out), "fs", "cp", str(out / "config.json"), ":config.json",
         "+", "reset"],
    ]


def test_mpremote_failure_registers_nothing(hall: Path, tmp_path: Path, fake_mpremote: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FAKE_MPREMOTE_STATUS", "1")
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a", "--link", "usb"),
               "--mpremote") == 1
    assert hall.read_text(encoding="utf-8") == HALL
    assert "Nothing was registered" in capsys.readouterr().err
    monkeypatch.setenv("FAKE_MPREMOTE_STATUS", "0")
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a", "--link", "usb"),
               "--mpremote") == 0


def test_missing_mpremote_is_a_clear_error(hall: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a", "--link", "usb"), "--mpremote",
               "--mpremote-cmd", str(tmp_path / "no-such-mpremote")) == 1
    assert "pip install mpremote" in capsys.readouterr().err


def test_wrapper_script_end_to_end(hall: Path, tmp_path: Path, fake_mpremote: Path) -> None:
    out = tmp_path / "a"
    env = os.environ | {"PYTHONPATH": ""}
    result = subprocess.run(
        [str(REPO / "tools" / "provision"), *pad("A01-pad", "A01", out), *rs485(7),
         "--hall-config", str(hall), "--mpremote", "--port", "u0"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert devices(hall)["A01-pad"]["address"] == 7
    assert calls(fake_mpremote)[0][:2] == ["connect", "u0"]
    result = subprocess.run(
        [str(REPO / "tools" / "provision"), *pad("A01-pad", "A01", out), *rs485(7),
         "--hall-config", str(hall)],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert "already registered" in result.stderr and "Traceback" not in result.stderr


def test_sign_config_has_no_keys(hall: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    assert run(hall, "--device", "A01-sign", "--counter", "A01", "--kind", "sign",
               "--board", "pico", "--out", str(out), *rs485(9)) == 0
    table = devices(hall)["A01-sign"]
    assert table == {"counter": "A01", "kind": "sign", "link": "rs485", "port": BUS,
                     "address": 9, "key": table["key"]}
    assert "keys" not in read_config(out)


def test_devices_in_another_style_refused(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    hall = tmp_path / "hall.toml"
    hall.write_text('devices = {}\n[hall]\nid = "h1"\n', encoding="utf-8")
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a", "--link", "usb")) == 2
    assert "another style" in capsys.readouterr().err
    assert hall.read_text(encoding="utf-8") == 'devices = {}\n[hall]\nid = "h1"\n'


def test_rotate_key_keeps_fields_it_does_not_know(tmp_path: Path) -> None:
    hall = tmp_path / "hall.toml"
    key = "ab" * 32
    hall.write_text(f'[hall]\nid = "h1"\n\n[devices."A01-pad"]\ncounter = "A01"\nkind = "pad"\n'
                    f'link = "usb"\nkeys = 2\nkey = "{key}"  # old board\nnote = "x"\n',
                    encoding="utf-8")
    assert run(hall, "--device", "A01-pad", "--rotate-key", "--board", "pico",
               "--out", str(tmp_path / "a")) == 0
    table = devices(hall)["A01-pad"]
    assert table["key"] != key and table["note"] == "x"
    assert "  # old board\n" in hall.read_text(encoding="utf-8")


def test_symlinked_hall_config_stays_a_symlink(hall: Path, tmp_path: Path) -> None:
    link = tmp_path / "current.toml"
    link.symlink_to(hall)
    assert run(link, *pad("A01-pad", "A01", tmp_path / "a", "--link", "usb")) == 0
    assert link.is_symlink()
    assert "A01-pad" in devices(hall)


def _font_chars(path: Path) -> set[str]:
    from edge_agent.padfont import codepoints

    return {chr(cp) for cp in codepoints(path.read_bytes())}


def test_a_pad_gets_glyph_files_of_the_hall_text_and_a_staff_change_is_refreshed(
    hall: Path, tmp_path: Path, fake_mpremote: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "a"
    assert run(hall, *pad("A01-pad", "A01", out, "--link", "usb")) == 0
    small = _font_chars(out / "font16.bin")
    assert set("综合窗口 1暂停服务请您评价工号0123456789") <= small
    assert set("暂停服务欢迎光临正在服务") <= _font_chars(out / "font32.bin")
    assert _font_chars(tmp_path / "pad-font" / "font16.bin") == small  # what the agent reads
    display = json.loads((out / "display.json").read_text(encoding="utf-8"))
    assert display["counter"] == "综合窗口 1" and display["keys"] == 2
    assert "喆" not in small
    with hall.open("a", encoding="utf-8") as f:
        f.write('\n[staff.2048]\nname = "王喆"\n[staff.3001]\nname = "𠮷田"\n')
    capsys.readouterr()
    assert run(hall, "--device", "A01-pad", "--refresh-display", "--out", str(out),
               "--mpremote", "--port", "/dev/ttyACM0") == 0
    captured = capsys.readouterr()
    assert {"王", "喆", "田", "2", "0", "4", "8"} <= _font_chars(out / "font16.bin")
    assert "喆" in _font_chars(tmp_path / "pad-font" / "font16.bin")
    assert "𠮷" in captured.err and "lacks" in captured.err  # reported, drawn as a box
    assert calls(fake_mpremote)[-1] == ["connect", "/dev/ttyACM0", *display_copies(out), "reset"]


def test_refresh_display_of_an_unregistered_device_is_refused(hall: Path,
                                                               tmp_path: Path) -> None:
    assert run(hall, "--device", "A09-pad", "--refresh-display") == 2
    assert run(hall, "--device", "B01-keypad", "--refresh-display") == 2


def test_a_port_is_shared_only_as_the_agent_allows(
        hall: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The agent's own port rule (edge_agent.service.checks.check_port): one device on a USB
    port, one address per device on an RS-485 bus, no mixing the two on one port."""
    usb = "/dev/serial/by-id/usb-MicroPython-if00"
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a", "--link", "usb",
                          "--serial-port", usb)) == 0
    before = hall.read_bytes()
    assert run(hall, *pad("A02-pad", "A02", tmp_path / "b", "--link", "usb",
                          "--serial-port", usb)) == 2
    assert f"--serial-port: [devices.A02-pad] port: {usb} is a usb port" in \
        capsys.readouterr().err
    assert run(hall, *pad("A02-pad", "A02", tmp_path / "b", *rs485(1, usb))) == 2
    assert "must all be usb or all rs485" in capsys.readouterr().err
    assert hall.read_bytes() == before
    assert run(hall, *pad("B01-pad", "B01", tmp_path / "c", *rs485(4))) == 0
    assert run(hall, *pad("B02-pad", "B02", tmp_path / "d", *rs485(4))) == 2
    assert "--address 4: [devices.B02-pad] address: 4 is already B01-pad's" in \
        capsys.readouterr().err
    assert run(hall, *pad("B02-pad", "B02", tmp_path / "d", *rs485(5))) == 0


def test_an_edit_that_would_not_load_in_the_agent_is_not_written(tmp_path: Path) -> None:
    from tools.provisioning.device import ProvisionError
    from tools.provisioning.hall_file import check_loads

    path = tmp_path / "hall.toml"
    old = '[hall]\nid = "h"\n'
    bad = old + '[devices."A01-pad"]\ncounter = "A01"\nkeys = 3\n'
    with pytest.raises(ProvisionError, match=r"keys: must be 2 or 5.*file left unchanged"):
        check_loads(path, old, bad)
    assert check_loads(path, old, old + '[devices."A01-pad"]\ncounter = "A01"\n') == []


def test_a_file_the_agent_refused_before_is_written_with_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hall = tmp_path / "hall.toml"
    hall.write_text('[hall]\nid = "h"\nsurprise = 1\n', encoding="utf-8")
    assert run(hall, *pad("A01-pad", "A01", tmp_path / "a", "--link", "usb",
                          "--serial-port", "/dev/serial/by-id/usb-x")) == 0
    assert "A01-pad" in devices(hall)
    assert "surprise: unknown key" in capsys.readouterr().err

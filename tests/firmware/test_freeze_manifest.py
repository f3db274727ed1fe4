"""hardware/freeze/manifest.py freezes every firmware module, from firmware/, and the display
driver: run with stand-ins for the manifest tool's functions (no MicroPython source tree here
to build an image with)."""

from __future__ import annotations

from pathlib import Path

from tests.firmware.upy_env import FIRMWARE, ROOT, firmware_sources

MANIFEST = ROOT / "hardware" / "freeze" / "manifest.py"


def test_the_manifest_freezes_every_firmware_module_and_the_driver() -> None:
    frozen: list[Path] = []
    required: list[str] = []
    included: list[str] = []

    def module(path: str, base_path: str = ".") -> None:
        frozen.append((MANIFEST.parent / base_path / path).resolve())

    code = compile(MANIFEST.read_text(encoding="utf-8"), str(MANIFEST), "exec")
    exec(code, {"module": module, "require": required.append, "include": included.append})
    assert sorted(frozen) == sorted(p.resolve() for p in firmware_sources())
    assert all(p.is_relative_to(FIRMWARE) for p in frozen)
    assert required == ["ssd1306"]
    assert included == ["$(PORT_DIR)/boards/manifest.py"]


def test_the_romfs_image_runs_the_firmware_from_flash_on_the_unix_port(tmp_path: Path) -> None:
    import subprocess

    from tests.firmware.upy_env import HEAPSIZE, MICROPYTHON
    from tools import padimage

    image = tmp_path / "pad.romfs"
    image.write_bytes(padimage.romfs_image())
    names = [p.stem if p.parent.name != "boards" else f"boards.{p.stem}"
             for p in firmware_sources() if p.stem not in ("main", "wifi", "esp32", "pico_w")]
    program = "\n".join([
        "import sys, vfs",
        f"vfs.mount(vfs.VfsRom(open({str(image)!r}, 'rb').read()), '/rom')",
        "sys.path[:] = ['/rom']",
        f"for name in {names!r}:",
        "    __import__(name)",
        "    m = sys.modules[name]",
        "    assert m.__file__.startswith('/rom/'), m.__file__",
        "print('imported', len(sys.modules))",
    ])
    proc = subprocess.run([MICROPYTHON, "-X", f"heapsize={HEAPSIZE}", "-c", program],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("imported")

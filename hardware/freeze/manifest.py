# ruff: noqa: F821  (include, require, module: functions MicroPython's manifest tool provides)
# Freezes the pad's firmware into a MicroPython board image, so its code runs from flash and
# costs no heap (docs/display.md, "Where the firmware's code lives"). In a MicroPython source
# tree with micropython-lib checked out (git submodule update --init lib/micropython-lib):
#   cd ports/rp2   && make BOARD=RPI_PICO FROZEN_MANIFEST=<repo>/hardware/freeze/manifest.py
#   cd ports/esp32 && make BOARD=ESP32_GENERIC FROZEN_MANIFEST=<repo>/hardware/freeze/manifest.py
# For RPI_PICO_W, replace the first include with "$(BOARD_DIR)/manifest.py" (its Wi-Fi
# modules). tests/firmware/test_freeze_manifest.py keeps FIRMWARE equal to firmware/.

include("$(PORT_DIR)/boards/manifest.py")  # the port's own frozen modules (asyncio, ...)
require("ssd1306")  # the display driver, from micropython-lib

FIRMWARE = (
    "app.py", "bootstate.py", "cobs.py", "crc16.py", "debounce.py", "display.py", "frame.py",
    "fs.py", "glyphs.py", "hmac_sha256.py", "main.py", "messages.py", "mqtt_client.py",
    "mqtt_session.py", "outbox.py", "pad.py", "screens.py", "selftest.py", "serial_link.py",
    "ticks.py",
    "boards/base.py", "boards/esp32.py", "boards/pico.py", "boards/pico_w.py", "boards/wifi.py",
)
for path in FIRMWARE:
    module(path, base_path="../../firmware")

"""What every board has: active-low keys with pull-ups, a status LED or a display (SSD1306 on
I2C, or SSD1309 on SPI), a serial link (USB-CDC, or a UART with an RS-485 driver), a watchdog,
and the MQTT link for Wi-Fi boards. A board module gives the pin map and, if it has one, the
Wi-Fi."""

import json
import select
import sys
import time

import framebuf
import machine
from glyphs import Glyphs
from screens import Screens
from serial_link import SerialLink

BAUD = 115200
SSD1306_ADDR = 0x3C
SSD1309_SPI = "ssd1309_spi"  # config.json "display": the sign's larger panel on SPI
SPI_BAUD = 10_000_000  # the SSD1309's limit is 10 MHz (100 ns clock cycle)
WATCHDOG_MS = 8000  # the RP2040's limit is 8388 ms
DISPLAY_FILE = "display.json"  # written by tools/provision beside the glyph files


class UartStream:
    """A UART whose RS-485 driver is enabled only while this pad transmits."""

    def __init__(self, uart: machine.UART, de: machine.Pin | None) -> None:
        self._uart = uart
        self._de = de

    def write(self, data: bytes) -> int:
        if self._de is not None:
            self._de.value(1)
        n = self._uart.write(data) or 0
        self._uart.flush()  # returns once the last bit is out, so the bus is released in time
        if self._de is not None:
            self._de.value(0)
        return n

    def read_ready(self) -> bytes:
        return (self._uart.read() or b"") if self._uart.any() else b""


class UsbStream:
    """USB-CDC, which is also the REPL's console: main.py turns off Ctrl-C first."""

    def __init__(self) -> None:
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def write(self, data: bytes) -> int:
        return sys.stdout.buffer.write(data) or 0

    def read_ready(self) -> bytes:
        out = b""
        while len(out) < 128 and self._poll.poll(0):
            out += sys.stdin.buffer.read(1) or b""
        return out


class BaseBoard:
    # Pin map, set by each board: UART id, TX, RX, DE/RE; rating keys; pause key; LED; I2C.
    UART_ID = 0
    TX: int = 0
    RX: int = 1
    DE: int = 2
    KEYS: tuple[int, ...] = (10, 11, 12, 13, 14)
    PAUSE: int = 15
    LED: int | str = 25
    I2C_ID = 0
    SDA: int = 4
    SCL: int = 5
    # SPI for an SSD1309 panel (config.json "display": "ssd1309_spi"): bus, SCK, MOSI, CS,
    # DC, RES. The bus's MISO pin is left to the port's default and not connected.
    SPI_ID = 0
    SCK: int = 18
    MOSI: int = 19
    CS: int = 17
    DC: int = 20
    RES: int = 21

    def __init__(self, cfg: dict) -> None:
        self.cfg = cfg
        count = cfg.get("keys", 2) if cfg.get("keys") in (2, 5) else 2
        pins = self.KEYS[:count]
        self._keys = [machine.Pin(p, machine.Pin.IN, machine.Pin.PULL_UP) for p in pins]
        self._pause = machine.Pin(self.PAUSE, machine.Pin.IN, machine.Pin.PULL_UP)
        self._led = machine.Pin(self.LED, machine.Pin.OUT)
        self._oled = self._find_display()
        self._screens = self._load_screens(cfg) if self._oled is not None else None
        self._drawn: tuple[int, str] | None = None
        self._wdt: machine.WDT | None = None

    def _find_display(self) -> object | None:
        """The display the pad config names: "ssd1306_i2c" (the default: the pad's 0.96"
        module, found by its I2C address) or "ssd1309_spi" (the sign's 2.42" panel). Both are
        128x64 and driven by micropython-lib's ssd1306, whose objects are FrameBuffers."""
        try:
            import ssd1306  # type: ignore[import-not-found]  # micropython-lib, via mip

            if self.cfg.get("display") == SSD1309_SPI:
                spi = machine.SPI(self.SPI_ID, baudrate=SPI_BAUD, sck=machine.Pin(self.SCK),
                                  mosi=machine.Pin(self.MOSI))
                return ssd1306.SSD1306_SPI(128, 64, spi, machine.Pin(self.DC, machine.Pin.OUT),
                                           machine.Pin(self.RES, machine.Pin.OUT),
                                           machine.Pin(self.CS, machine.Pin.OUT))
            i2c = machine.I2C(self.I2C_ID, sda=machine.Pin(self.SDA), scl=machine.Pin(self.SCL))
            if SSD1306_ADDR not in i2c.scan():
                return None
            return ssd1306.SSD1306_I2C(128, 64, i2c, addr=SSD1306_ADDR)
        except (OSError, ImportError, ValueError):
            return None

    def _load_screens(self, cfg: dict) -> Screens:
        """The glyph files stay open and are read one glyph at a time (glyphs.py)."""
        try:
            with open(DISPLAY_FILE) as f:
                settings = json.load(f)
        except (OSError, ValueError):
            settings = {}
        if not isinstance(settings, dict):
            settings = {}
        settings.setdefault("keys", cfg.get("keys"))
        settings.setdefault("counter", cfg.get("counter"))
        return Screens(Glyphs("font16.bin", 16, framebuf), Glyphs("font32.bin", 32, framebuf),
                       settings)

    def maintenance(self) -> bool:
        """Pause key held at power-on: leave the REPL to the technician."""
        return self._pause.value() == 0

    def keys(self) -> int:
        mask = 0
        for i, pin in enumerate(self._keys):
            if pin.value() == 0:
                mask |= 1 << i
        if self._pause.value() == 0:
            mask |= 1 << 5
        return mask

    def show(self, screen: int, text: str, led: bool) -> int:
        """Draw the screen; returns the glyph files' fault (glyphs.FONT_*), 0 if none."""
        self._led.value(1 if led else 0)
        oled = self._oled
        if oled is None or self._screens is None or self._drawn == (screen, text):
            return 0  # a blink of the LED alone: the picture stays
        self._drawn = (screen, text)
        fault = self._screens.draw(oled, screen, text)  # the SSD1306 driver is a FrameBuffer
        oled.show()  # type: ignore[attr-defined]
        return fault

    def display_ok(self) -> bool | None:
        return True if self._oled is not None else None

    def link(self, cfg: dict) -> object:
        if cfg["link"] == "usb":
            return SerialLink(UsbStream(), False)
        if cfg["link"] == "rs485":
            uart = machine.UART(self.UART_ID, baudrate=BAUD, tx=machine.Pin(self.TX),
                                rx=machine.Pin(self.RX), timeout=0)
            de = machine.Pin(self.DE, machine.Pin.OUT, value=0)
            return SerialLink(UartStream(uart, de), True)
        return self.mqtt(cfg)

    def mqtt(self, cfg: dict) -> object:
        raise OSError("this board has no Wi-Fi")

    def safe_mode(self, why: str) -> None:
        """Blink SOS forever with the REPL left usable, so a technician can look and fix."""
        del why
        while True:
            for on in (200, 200, 200, 600, 600, 600, 200, 200, 200):
                self._led.value(1)
                time.sleep_ms(on)
                self._led.value(0)
                time.sleep_ms(200)
            time.sleep_ms(1000)

    def watchdog_start(self) -> None:
        self._wdt = machine.WDT(timeout=WATCHDOG_MS)

    def watchdog_feed(self) -> None:
        if self._wdt is not None:
            self._wdt.feed()

    def idle(self, ms: int) -> None:
        time.sleep_ms(ms)

    def stopped(self) -> bool:
        return False

# A board for the MicroPython unix port: the UART is a pty (opened by path), the keys are a
# small control file holding the mask of held keys, the display is a log line on stdout.
# Usage: micropython -m unix_board PTY FS_DIR CONTROL_FILE
import select
import sys
import time

import app
from fs import Fs
from serial_link import SerialLink


class PtyStream:
    def __init__(self, path: str) -> None:
        self._f = open(path, "r+b")  # noqa: SIM115 (open for the program's whole life)
        self._poll = select.poll()
        self._poll.register(self._f, select.POLLIN)
        self._byte = bytearray(1)

    def write(self, data: bytes) -> int:
        return self._f.write(data)

    def wait(self, ms: int) -> None:
        self._poll.poll(ms)

    def read_ready(self) -> bytes:
        # One byte per read: a larger read on a tty blocks until it is filled on this port.
        out = b""
        while len(out) < 128 and self._poll.poll(0):
            if not self._f.readinto(self._byte):
                break
            out += self._byte
        return out


class UnixBoard:
    def __init__(self, pty: str, control: str) -> None:
        self._pty = pty
        self._control = control
        self._held = 0
        self._stop = False
        self._last_read = 0

    def keys(self) -> int:
        return self._held

    def show(self, screen: int, text: str, led: bool) -> None:
        pass

    def link(self, cfg: dict) -> SerialLink:
        return SerialLink(PtyStream(self._pty), cfg["link"] == "rs485")

    def display_ok(self) -> bool | None:
        return None

    def safe_mode(self, why: str) -> None:
        print("safe mode:", why)

    def watchdog_start(self) -> None:
        pass

    def watchdog_feed(self) -> None:
        pass

    def idle(self, ms: int) -> None:
        time.sleep_ms(ms)
        try:
            with open(self._control) as f:
                text = f.read().strip()
        except OSError:
            return
        if text == "stop":
            self._stop = True
        elif text:
            self._held = int(text)

    def stopped(self) -> bool:
        return self._stop


def main() -> None:
    pty, root, control = sys.argv[1], sys.argv[2], sys.argv[3]
    print("ready")
    app.run(UnixBoard(pty, control), Fs(root))
    print("stopped")


if __name__ == "__main__":  # run as `-m unix_board`; mqtt_board imports the board
    main()

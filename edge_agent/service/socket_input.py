"""An input device served on a Unix socket: the kernel's `struct input_event` records.

A real keypad or badge reader is /dev/input/eventN, read as 24-byte `struct input_event`
records (timeval sec, usec; type u16; code u16; value s32). Where there is no /dev/uinput
(containers, CI, a technician's laptop) the hall simulator serves the same records on a Unix
stream socket at the device's configured path, and the agent reads them back here as
evdev.InputEvent. The evdev link opens a path that is a socket with `SocketSource`, anything
else with python-evdev, so a hall file can point a device at either.

Unplugging (the simulator closing the socket and removing the path) gives end-of-file,
reported as ENODEV as the kernel does for an unplugged device; a missing path is ENOENT.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import struct

import evdev

RECORD = struct.Struct("llHHi")  # struct input_event on 64-bit Linux
MAX_READ = RECORD.size * 64


def is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


class SocketSource:
    """One simulated input device, open (an evdev_link.InputSource)."""

    def __init__(self, path: str) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            raise OSError(errno.ENOENT, f"{path}: no such input device") from None
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self._sock = sock
        self._rest = b""

    def fileno(self) -> int:
        return self._sock.fileno()

    def read(self) -> list[evdev.InputEvent]:
        try:
            data = self._sock.recv(MAX_READ)  # BlockingIOError when nothing is there
        except ConnectionResetError:
            data = b""  # unplugged before the simulator took the connection
        if not data:
            raise OSError(errno.ENODEV, "unplugged")
        data = self._rest + data
        whole = len(data) - len(data) % RECORD.size
        self._rest = data[whole:]
        return [to_event(*RECORD.unpack_from(data, i)) for i in range(0, whole, RECORD.size)]

    def grab(self) -> None:
        pass  # a socket has one reader: nothing to keep out

    def close(self) -> None:
        self._sock.close()


def to_event(sec: int, usec: int, etype: int, code: int, value: int) -> evdev.InputEvent:
    return evdev.InputEvent(sec, usec, etype, code, value)  # type: ignore[no-untyped-call]

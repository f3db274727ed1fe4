"""A simulated evdev device: a Unix socket carrying the kernel's `struct input_event` records.

A real keypad or badge reader is /dev/input/eventN, read as 24-byte `struct input_event`
records (timeval sec, usec; type u16; code u16; value s32). Without /dev/uinput (containers,
CI) the simulator serves the same records on a Unix stream socket at the device's configured
path, and the agent's evdev link reads them back as evdev.InputEvent
(edge_agent/service/socket_input.py). A socket behaves as evdev does where it matters: every
reader gets the events from when it connected, events with no reader are lost, and
unplugging (closing the socket, removing the path) gives the reader end-of-file, reported as
ENODEV like the kernel does for an unplugged device; the path is missing (ENOENT) until it
is plugged in again.
"""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path

from edge_agent.service.socket_input import RECORD


class SocketInput:
    """The simulator's end of one input device."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._server: socket.socket | None = None
        self._readers: list[socket.socket] = []
        self.written = 0
        self.dropped = 0  # events no reader got (none connected, or its buffer full)
        self.drops: Counter[str] = Counter()  # bursts no reader got, by why

    @property
    def plugged(self) -> bool:
        return self._server is not None

    def fileno(self) -> int | None:
        """The listening socket, to wait on for a reader connecting."""
        return None if self._server is None else self._server.fileno()

    def plug(self) -> None:
        if self._server is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(self.path))
        server.listen(4)
        server.setblocking(False)
        self._server = server

    def unplug(self) -> None:
        if self._server is None:
            return
        self.path.unlink(missing_ok=True)
        for reader in self._readers:
            reader.close()
        self._readers = []
        self._server.close()
        self._server = None

    def accept(self) -> None:
        """Take readers that connected (the agent opening the device)."""
        while self._server is not None:
            try:
                reader, _ = self._server.accept()
            except (BlockingIOError, InterruptedError):
                return
            reader.setblocking(False)
            self._readers.append(reader)

    def emit(self, events: list[tuple[int, int, int, int]]) -> str:
        """(t_us, type, code, value) records, sent as one burst to every reader. Returns ""
        when a reader got them, else why none did: "unplugged", "no reader" (the agent has
        not opened the device), "reader gone" (the agent died), "reader full"."""
        self.accept()
        data = b"".join(RECORD.pack(t // 1_000_000, t % 1_000_000, typ, code, value)
                        for t, typ, code, value in events)
        if self._server is None:
            why = "unplugged"
        elif not self._readers:
            why = "no reader"
        else:
            why = self._send(data, len(events))
        if why:
            self.dropped += len(events)
            self.drops[why] += 1
        return why

    def _send(self, data: bytes, n: int) -> str:
        why = "reader gone"
        for reader in list(self._readers):
            try:
                reader.sendall(data)
                self.written += n
                why = ""
            except BlockingIOError:
                why = why and "reader full"  # a reader that stopped reading: as evdev does
            except OSError:
                reader.close()  # the reader went away (the agent restarted)
                self._readers.remove(reader)
        return why

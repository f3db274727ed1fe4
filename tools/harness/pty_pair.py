"""A pseudo-terminal pair: the line a serial pad sits on. The test (or the simulated pad)
holds the master; the agent opens the slave by its path through pyserial, as it opens a
real /dev/ttyUSB0. Both ends raw, so 0x00, 0x03 and 0x0A pass untouched. A pty ignores the
baud rate."""

from __future__ import annotations

import contextlib
import os
import select
import tty
from dataclasses import dataclass


@dataclass
class PtyPair:
    master: int
    slave: int
    path: str  # the slave's device path, what the agent opens

    @classmethod
    def open(cls, blocking: bool = True) -> PtyPair:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        if not blocking:
            os.set_blocking(master, False)
        return cls(master, slave, os.ttyname(slave))

    def read(self, timeout_s: float = 0.2) -> bytes:
        """What the slave's side wrote, waiting up to timeout_s; b"" if nothing came."""
        ready, _, _ = select.select([self.master], [], [], timeout_s)
        return os.read(self.master, 65536) if ready else b""

    def close(self) -> None:
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)

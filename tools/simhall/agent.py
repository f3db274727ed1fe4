"""`python -m tools.simhall.agent run ...`: the edge agent exactly as `python -m edge_agent`,
except that its evdev link can also open the simulator's input devices (Unix sockets,
input_device.py) where a real hall has /dev/input nodes.

A stopgap until the agent's evdev link chooses its opener itself (the report of this
change says how); nothing else differs from `python -m edge_agent`.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable

from edge_agent.cli import main
from edge_agent.config import HallConfig
from edge_agent.service import evdev_link
from tools.simhall.input_device import SocketSource


def open_input(path: str) -> evdev_link.InputSource:
    """A simulated device where the path is a socket (or missing: it may be unplugged),
    python-evdev's InputDevice otherwise."""
    try:
        simulated = stat.S_ISSOCK(os.stat(path).st_mode)
    except FileNotFoundError:
        simulated = not path.startswith("/dev/")
    return SocketSource(path) if simulated else evdev_link.EvdevDevice(path)


def evdev_links(config: HallConfig, now_us: Callable[[], int]) -> list[evdev_link.EvdevLink]:
    """evdev_link.evdev_links (its checks and errors), with the opener above."""
    _original(config, now_us)
    devices = [d for d in config.devices.values() if d.link == "evdev"]
    return [evdev_link.EvdevLink(devices, now_us, opener=open_input)] if devices else []


_original = evdev_link.evdev_links

if __name__ == "__main__":
    evdev_link.evdev_links = evdev_links  # run.py imports it when it builds the links
    sys.exit(main())

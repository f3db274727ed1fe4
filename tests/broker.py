"""The `broker` fixture: a started real mosquitto (tools/harness/mosquitto.py), anonymous
access, on a free 127.0.0.1 port, persistence in the test's tmp folder. Import it into a
conftest (`from tests.broker import broker`); for another scope or for password/ACL files
use `running_broker(folder, ...)`. The broker is always stopped at the end, also when the
test fails; a broker that cannot start fails the test (never skips it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.harness.binaries import HarnessError
from tools.harness.mosquitto import Broker, password_file, running_broker

__all__ = ["Broker", "broker", "password_file", "running_broker"]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A started mosquitto, anonymous access, on a free loopback port."""
    try:
        b = Broker(tmp_path / "mosquitto")
        b.start()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield b
    finally:
        b.stop()

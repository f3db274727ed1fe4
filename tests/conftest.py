from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Runner


@pytest.fixture
def run(tmp_path: Path, capsys: Any) -> Runner:
    return Runner(tmp_path, capsys)

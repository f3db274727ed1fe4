"""The live service's [agent] section: defaults, and a bad value named with its key."""

from __future__ import annotations

import pytest

from edge_agent.config import ConfigError, parse_config


def test_agent_defaults_poll_a_bus_every_100_ms() -> None:
    agent = parse_config('[hall]\nid = "H"\n').service.agent
    assert (agent.bus_cycle_ms, agent.tick_ms, agent.device_timeout_s) == (100, 1000, 30.0)


def test_a_shorter_bus_cycle_is_taken() -> None:
    config = parse_config('[hall]\nid = "H"\n[agent]\nbus_cycle_ms = 5\n')
    assert config.service.agent.bus_cycle_ms == 5


@pytest.mark.parametrize(("line", "message"), [
    ("bus_cycle_ms = 0", "[agent] bus_cycle_ms: must be greater than 0, got 0"),
    ("tick_ms = -1", "[agent] tick_ms: must be greater than 0, got -1"),
    ("bus_cycle = 5", "bus_cycle"),
])
def test_a_bad_agent_key_is_named(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(f'[hall]\nid = "H"\n[agent]\n{line}\n')
    assert message in str(err.value)

"""Loads firmware/protocol_vectors.json for the agent-side tests."""

from __future__ import annotations

import json
from typing import Any

from edge_agent.wire import Decoder, DeviceKey, SeqGuard
from tests.wire.gen_vectors import PATH


def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PATH.read_text(encoding="utf-8"))
    return data


def keys() -> dict[int, DeviceKey]:
    devices = load()["devices"]
    return {d["address"]: DeviceKey(d["device"], bytes.fromhex(d["key"])) for d in devices}


def decoder(upstream: bool = True) -> Decoder:
    return Decoder(keys().get, SeqGuard(), upstream=upstream)

"""The pad wire protocol v1, agent side (docs/protocol.md): decoding pad frames with replay
protection, encoding acks, display commands and polls."""

from edge_agent.wire.decoder import Decoder, FrameRejection, Reason, Result
from edge_agent.wire.encoder import Encoder
from edge_agent.wire.frame import seal, wire
from edge_agent.wire.guard import SeqGuard, Verdict
from edge_agent.wire.keys import DeviceKey, KeyLookup, lookup_for, parse_key
from edge_agent.wire.protocol import (
    SCREEN_CODES,
    Ack,
    Body,
    Fault,
    Heartbeat,
    Kind,
    Message,
    PauseKey,
    Poll,
    Press,
    ScreenCode,
    ScreenCommand,
    SelfTest,
)

__all__ = [
    "SCREEN_CODES",
    "Ack",
    "Body",
    "Decoder",
    "DeviceKey",
    "Encoder",
    "Fault",
    "FrameRejection",
    "Heartbeat",
    "KeyLookup",
    "Kind",
    "Message",
    "PauseKey",
    "Poll",
    "Press",
    "Reason",
    "Result",
    "ScreenCode",
    "ScreenCommand",
    "SelfTest",
    "SeqGuard",
    "Verdict",
    "lookup_for",
    "parse_key",
    "seal",
    "wire",
]

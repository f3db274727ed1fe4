"""tools/harness: the ports and the pty pair every test, benchmark and simulated hall uses."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import serial  # type: ignore[import-untyped]

from tools.harness.binaries import HarnessError, find_binary
from tools.harness.ports import HOST, free_port, listening
from tools.harness.pty_pair import PtyPair
from tools.harness.redis_server import redis_argv


def test_a_free_port_can_be_bound_and_is_listening_only_once_bound() -> None:
    port = free_port()
    assert not listening(HOST, port)
    with socket.socket() as s:
        s.bind((HOST, port))
        s.listen()
        assert listening(HOST, port)


def test_the_pty_pair_passes_every_byte_untouched_both_ways() -> None:
    line = PtyPair.open()
    every = bytes(range(256))
    try:
        with serial.Serial(line.path, timeout=2) as agent_end:
            os.write(line.master, every)
            assert agent_end.read(len(every)) == every
            agent_end.write(every)
            got = b""
            while len(got) < len(every):
                chunk = line.read(2.0)
                assert chunk, "the pty lost bytes"
                got += chunk
            assert got == every
    finally:
        line.close()


def test_a_missing_server_program_is_a_clear_error() -> None:
    with pytest.raises(HarnessError, match=r"no-such-server-x is not installed .*tools/bootstrap"):
        find_binary("no-such-server-x", "/nonexistent/no-such-server-x")


def test_redis_argv_is_loopback_only_and_persists_only_when_asked(tmp_path: Path) -> None:
    argv = redis_argv(7000, tmp_path, aof=False)
    assert argv[argv.index("--bind") + 1] == HOST
    assert argv[argv.index("--appendonly") + 1] == "no"
    assert argv[argv.index("--save") + 1] == ""
    log = tmp_path / "r.log"
    assert redis_argv(7000, tmp_path, aof=True, log=log)[-2:] == ["--logfile", str(log)]

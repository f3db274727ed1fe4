"""`python -m edge_agent run`: assemble the core, the links and the local servers, and run
until SIGTERM or SIGINT.

The core loop runs in its own thread; the main thread only waits for a signal and then puts
a Stop on the inbox (a signal handler must not take the queue's lock), so a shutdown
finishes the batch in hand, closes the journal and stops every link.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from edge_agent.config import HallConfig
from edge_agent.journal import Journal
from edge_agent.rules.model import RULES_VERSION
from edge_agent.service.checks import check_live
from edge_agent.service.clock import WALL, Clock
from edge_agent.service.core import Core
from edge_agent.service.inputs import Stop

log = logging.getLogger("edge_agent.run")


class ServiceError(Exception):
    """The service cannot start; the message says why."""


class JournalLock:
    """One agent per journal: an exclusive flock on `<journal>.lock`, held for the process's
    life (the kernel drops it when the process ends, however it ends). Taken before anything
    else is touched, so a second agent started by mistake neither raises the journal's boot
    counter nor takes the first one's MQTT session or ports. The file holds the holder's pid,
    for the message a second agent prints."""

    def __init__(self, journal: Path) -> None:
        self.path = journal.with_name(journal.name + ".lock")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            raise ServiceError(
                f"{journal} is in use by another agent (pid {holder}; lock {self.path}): "
                "one agent per journal; stop that one first (systemctl stop "
                "window-eval-agent), or give this configuration its own [agent] journal"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = None


def lock_journal(config: HallConfig) -> JournalLock:
    path = config.path(config.service.agent.journal)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalLock(path)


def open_journal(config: HallConfig) -> tuple[Journal, int]:
    """The hall's journal, checked to be this hall's, and the agent's new boot number."""
    path = config.path(config.service.agent.journal)
    path.parent.mkdir(parents=True, exist_ok=True)
    journal = Journal(path)
    hall = journal.get_meta("hall")
    if hall is not None and hall != config.hall_id:
        journal.close()
        raise ServiceError(f"{path} is the journal of hall {hall!r}, but the configuration "
                           f"is for hall {config.hall_id!r}")
    if hall is None:
        journal.set_meta("hall", config.hall_id)
    boot = int(journal.get_meta("agent_boot") or 0) % 65535 + 1
    journal.set_meta("agent_boot", str(boot))
    journal.claim_rules_version(RULES_VERSION)  # what it decides from here on
    return journal, boot


def build_links(config: HallConfig, core: Core) -> list[Any]:
    """Every link and local server the configuration asks for."""
    now_us = core.clock.now_us
    parts: list[Any] = []
    links = {d.link for d in config.devices.values()}
    if links & {"usb", "rs485"}:
        from edge_agent.service.serial_link import serial_links
        cycle_s = config.service.agent.bus_cycle_ms / 1000
        parts += serial_links(config, now_us, core.boot, cycle_min_s=cycle_s)
    if "mqtt" in links or config.service.hook.token:
        from edge_agent.service.mqtt_link import MqttLink
        parts.append(MqttLink(config, now_us))
    if "evdev" in links:
        from edge_agent.service.evdev_link import evdev_links
        parts += evdev_links(config, now_us)
    hook = config.service.hook
    if hook.token and hook.listen:
        from edge_agent.service.hook import QueueHook
        from edge_agent.service.mqtt_link import known_counters
        parts.append(QueueHook(hook.listen, hook.token, hook.salt, known_counters(config),
                               core.inbox, now_us, staff=config.service.staff))
    if config.service.agent.status_listen:
        from edge_agent.service.status_http import StatusServer
        parts.append(StatusServer(config.service.agent.status_listen, lambda: core.status))
    return parts


def attach_outbox(config: HallConfig, core: Core) -> Any:
    if not config.service.center.url:
        return None
    from edge_agent.outbox import Outbox
    outbox = Outbox(core.journal.path, config.hall_id, f"{config.hall_id}-agent",
                    config.service.center, inbox=core.inbox,
                    fault_poll_s=config.service.center.fault_poll_s)
    core.outbox = outbox
    return outbox


def serve(config: HallConfig, clock: Clock = WALL) -> int:
    stopping: list[int] = []  # a handler only appends: it must not take any lock
    old = {s: signal.signal(s, lambda signum, frame: stopping.append(signum))
           for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return _serve(config, clock, stopping)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _serve(config: HallConfig, clock: Clock, stopping: list[int]) -> int:
    """Signals are caught from the start: a stop during the journal's restore is clean too.
    The configuration is checked (check-config's checks) and the journal locked before
    anything is opened."""
    check_live(config)
    lock = lock_journal(config)
    try:
        return _serve_locked(config, clock, stopping)
    finally:
        lock.release()


def _serve_locked(config: HallConfig, clock: Clock, stopping: list[int]) -> int:
    journal, boot = open_journal(config)
    core = Core(config, journal, boot=boot, clock=clock, restore=False)
    parts = build_links(config, core)
    for part in parts:
        if hasattr(part, "send"):
            core.links[part.name] = part
        elif hasattr(part, "health"):
            core.servers[type(part).__name__] = part
    started: list[Any] = []
    try:
        # Input first: keypads and badge readers are opened, pads heard and queue reports
        # taken while the journal is restored; they wait on the inbox, in order, and are
        # decided once the state is back. The status page opens once it has a state to show.
        early = [p for p in parts if not isinstance(p, _late_parts())]
        for part in early:
            _start(part, core)
            started.append(part)
        core.restore()
        for part in parts:
            if part not in early:
                _start(part, core)
                started.append(part)
        outbox = attach_outbox(config, core)
        if outbox is not None:
            outbox.start()
            started.append(outbox)
        log.info("agent up: hall %s, boot %d, journal %s at seq %d", config.hall_id, boot,
                 journal.path, journal.head_seq)
        ok = _run_until(core, stopping)
    finally:
        for part in reversed(started):
            part.stop()
        journal.close()
    if not ok:
        return 1
    log.info("agent stopped cleanly at journal seq %d", journal.head_seq)
    return 0


def _late_parts() -> tuple[type, ...]:
    from edge_agent.service.status_http import StatusServer
    return (StatusServer,)


def _start(part: Any, core: Core) -> None:
    if hasattr(part, "send"):  # a link: it feeds the inbox
        part.start(core.inbox)
    else:
        part.start()


def _run_until(core: Core, stopping: list[int]) -> bool:
    """Run the core loop until a signal; False if the loop itself failed."""
    failed: list[BaseException] = []

    def work() -> None:
        try:
            core.run()
        except BaseException as exc:  # a bug: log it, exit non-zero, let systemd restart
            failed.append(exc)
            log.exception("the core loop failed; stopping (nothing acked is lost)")

    worker = threading.Thread(target=work, name="core", daemon=True)
    worker.start()
    while worker.is_alive() and not stopping:
        time.sleep(0.1)
    if worker.is_alive():
        core.inbox.put(Stop())
        worker.join()
    return not failed

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from edge_agent.config import HallConfig
from edge_agent.journal import Journal
from edge_agent.rules.model import RULES_VERSION
from edge_agent.service.checks import check_live
from edge_agent.service.clock import WALL, Clock, TimeSource
from edge_agent.service.core import Core, new_inbox
from edge_agent.service.inputs import Inbox, Link, Stop

if TYPE_CHECKING:  # imported where built: a hall without them does not load them
    from edge_agent.outbox import Outbox
    from edge_agent.service.hook import QueueHook
    from edge_agent.service.status_http import StatusServer

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


@dataclass(frozen=True)
class Service:
    """The assembled service: the core and the parts around it, in the order they start."""

    core: Core
    links: list[Link]  # started before the journal's restore: input waits on the inbox
    hook: QueueHook | None  # the queue system's HTTP hook: early too
    status_server: StatusServer | None  # once there is a state to show
    outbox: Outbox | None  # once the journal is restored


class Startable(Protocol):
    """A part that runs until stopped (a link, a server, the outbox)."""

    def stop(self) -> None: ...


def assemble(config: HallConfig, journal: Journal, boot: int, clock: TimeSource) -> Service:
    """Every part the configuration asks for, wired to one inbox and one core."""
    inbox = new_inbox()
    links = build_links(config, clock.now_us, boot)
    hook = build_hook(config, inbox, clock.now_us)
    outbox = build_outbox(config, journal, inbox)
    core = Core(config, journal, boot=boot, clock=clock, links={link.name: link for link in links},
                servers={"QueueHook": hook} if hook is not None else {}, outbox=outbox,
                inbox=inbox, restore=False)
    return Service(core, links, hook, build_status_server(config, core), outbox)


def build_status_server(config: HallConfig, core: Core) -> StatusServer | None:
    listen = config.service.agent.status_listen
    if not listen:
        return None
    from edge_agent.service.status_http import StatusServer
    return StatusServer(listen, lambda: core.status)


def build_links(config: HallConfig, now_us: Callable[[], int], boot: int) -> list[Link]:
    """Every link the configuration asks for."""
    links: list[Link] = []
    kinds = {d.link for d in config.devices.values()}
    if kinds & {"usb", "rs485"}:
        from edge_agent.service.serial_link import serial_links
        cycle_s = config.service.agent.bus_cycle_ms / 1000
        links += serial_links(config, now_us, boot, cycle_min_s=cycle_s)
    if "mqtt" in kinds or config.service.hook.token:
        from edge_agent.service.mqtt_link import MqttLink
        links.append(MqttLink(config, now_us))
    if "evdev" in kinds:
        from edge_agent.service.evdev_link import evdev_links
        links += evdev_links(config, now_us)
    return links


def build_hook(config: HallConfig, inbox: Inbox, now_us: Callable[[], int]) -> QueueHook | None:
    hook = config.service.hook
    if not (hook.token and hook.listen):
        return None
    from edge_agent.service.hook import QueueHook
    from edge_agent.service.mqtt_link import known_counters
    return QueueHook(hook.listen, hook.token, hook.salt, known_counters(config), inbox, now_us,
                     staff=config.service.staff)


def build_outbox(config: HallConfig, journal: Journal, inbox: Inbox) -> Outbox | None:
    if not config.service.center.url:
        return None
    from edge_agent.outbox import Outbox
    return Outbox(journal.path, config.hall_id, f"{config.hall_id}-agent",
                  config.service.center, inbox=inbox,
                  fault_poll_s=config.service.center.fault_poll_s)


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
    service = assemble(config, journal, boot, clock)
    core = service.core
    started: list[Startable] = []
    try:
        # Input first: keypads and badge readers are opened, pads heard and queue reports
        # taken while the journal is restored; they wait on the inbox, in order, and are
        # decided once the state is back. The status page opens once it has a state to show.
        for link in service.links:
            link.start(core.inbox)
            started.append(link)
        if service.hook is not None:
            service.hook.start()
            started.append(service.hook)
        core.restore()
        for late in (service.status_server, service.outbox):
            if late is not None:
                late.start()
                started.append(late)
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

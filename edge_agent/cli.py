"""Command line: ``python -m edge_agent COMMAND``.

Exit status: 0 done; 1 the record does not hold up (a broken journal chain, a replay that
disagrees with the journal); 2 bad input (a malformed line, a bad config key, a bad option).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from edge_agent import progress
from edge_agent.config import ConfigError, HallConfig, load_config
from edge_agent.journal import (
    ChainBroken,
    Journal,
    JournalError,
    chain_start,
    open_for_reading,
    read_meta,
    read_records,
    rules_versions,
    verify,
)
from edge_agent.replay import (
    ContractWriter,
    JournalReplay,
    Replayer,
    journal_events,
    timeline_events,
)
from edge_agent.report_text import report_csv, report_table
from edge_agent.rules.model import RULES_VERSION, Output
from edge_agent.timeline import EventParser, TimelineError

BAD_INPUT = 2
NOT_HOLDING = 1


class UsageError(Exception):
    """Bad input found before any work started."""


# Commands whose own module parses their arguments.
DELEGATED = {
    "status": ("edge_agent.service.status_cli", "status_main"),
    "broker-files": ("edge_agent.service.broker_files", "broker_files_main"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DELEGATED:
        module, name = DELEGATED[argv[0]]
        command: Callable[[list[str]], int] = getattr(importlib.import_module(module), name)
        return command(argv[1:])
    args = _parser().parse_args(argv)
    try:
        result: int = args.run(args)
        return result
    except (UsageError, ConfigError, JournalError) as exc:
        return _fail(str(exc), NOT_HOLDING if isinstance(exc, ChainBroken) else BAD_INPUT)
    except TimelineError as exc:
        return _fail(f"{getattr(args, 'source_name', 'input')} {exc}", BAD_INPUT)
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (e.g. `| head`): not an error of ours
        return 0
    except KeyboardInterrupt:
        return 130


def _fail(message: str, status: int) -> int:
    print(f"edge_agent: error: {message}", file=sys.stderr)
    return status


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m edge_agent",
                                description="Window-counter evaluation: the hall's edge agent.")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    r = sub.add_parser("replay", help="re-derive every decision and the month's report (JSON)")
    _input_options(r)
    r.set_defaults(run=cmd_replay)

    rep = sub.add_parser("report", help="the month's report with the records behind each "
                                        "deduction")
    _input_options(rep)
    rep.add_argument("--format", choices=("json", "csv", "table"), default="table")
    rep.set_defaults(run=cmd_report)

    rec = sub.add_parser("record", help="decide a timeline and journal every event")
    rec.add_argument("timeline", type=Path)
    rec.add_argument("--journal", type=Path, required=True)
    rec.add_argument("--config", type=Path, required=True)
    rec.add_argument("--batch", type=int, default=256, help="records per commit")
    rec.set_defaults(run=cmd_record)

    v = sub.add_parser("verify", help="check a journal's hash chain")
    v.add_argument("journal", type=Path)
    v.add_argument("--head", help="the head hash kept elsewhere (hex), to detect a rewrite")
    v.set_defaults(run=cmd_verify)

    c = sub.add_parser("check-config", help="validate a hall configuration file")
    c.add_argument("config", type=Path)
    c.set_defaults(run=cmd_check_config)

    run = sub.add_parser("run", help="run the live agent: links, rules, journal, displays")
    run.add_argument("--config", type=Path, required=True)
    run.add_argument("--clock", help="REAL_START_US:SIM_START_US:SPEED (the hall simulator's "
                                     "scaled clock); default: wall time")
    run.add_argument("--log-level", default="INFO",
                     choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    run.set_defaults(run=cmd_run)

    h = sub.add_parser("hash-id", help="the salted hash of an ID number read from stdin "
                                       "(for [staff.ID] id_hash)")
    h.add_argument("--config", type=Path, required=True)
    h.set_defaults(run=cmd_hash_id)
    sub.add_parser("status", help="the live agent's counters (--help for options)")
    sub.add_parser("broker-files", help="write mosquitto's passwd, acl and conf for the hall "
                                        "(--help for options)")
    return p


def _input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("timeline", type=Path, nargs="?", help="timeline file (JSON lines)")
    p.add_argument("--journal", type=Path, help="replay a journal file instead of a timeline")
    p.add_argument("--config", type=Path, required=True, help="the hall's TOML configuration")
    p.add_argument("--month", required=True, help="the month to report, YYYY-MM")


# --- commands ---------------------------------------------------------------------------


def cmd_replay(args: argparse.Namespace) -> int:
    config, month = _common(args)
    writer = ContractWriter(sys.stdout, config)
    replayer, checked = _replay(args, config, month, writer.write)
    writer.close(replayer.tally.report())
    return _report_comparison(checked)


def cmd_report(args: argparse.Namespace) -> int:
    config, month = _common(args)
    replayer, checked = _replay(args, config, month, lambda outputs: None)
    report = replayer.tally.explained()
    if args.format == "json":
        json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    elif args.format == "csv":
        sys.stdout.write(report_csv(report))
    else:
        source = "journal record" if args.journal else "line"
        sys.stdout.write(report_table(report, config, source))
    return _report_comparison(checked)


def _replay(args: argparse.Namespace, config: HallConfig, month: str,
            write: Callable[[list[Output]], None]) -> tuple[Replayer, JournalReplay | None]:
    """Feed every input to a fresh replayer, checked against the journal where there is one."""
    if args.journal is None:
        replayer = Replayer(config, month)
        for ev in _timeline(args, config):
            write(replayer.feed(ev))
        write(replayer.finish())
        return replayer, None
    db = _open_journal(args, config)
    try:
        checked = JournalReplay(config, month, rules_versions(db))
        for item, record in journal_events(read_records(db), EventParser(config.scale),
                                           chain_start(db)):
            write(checked.feed(item, record))
        write(checked.finish())
    finally:
        db.close()
    return checked.replayer, checked


def cmd_run(args: argparse.Namespace) -> int:
    from edge_agent.service.checks import load_live_config
    from edge_agent.service.clock import WALL, Clock
    from edge_agent.service.run import ServiceError, serve

    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config, warnings = load_live_config(args.config)  # check-config's checks, the same
    for warning in warnings:
        logging.getLogger("edge_agent.run").warning("%s: %s", args.config, warning)
    try:
        clock = Clock.parse(args.clock) if args.clock else WALL
        return serve(config, clock)
    except (ServiceError, ValueError, OSError) as exc:  # e.g. the status port is taken
        raise UsageError(str(exc)) from None


def cmd_hash_id(args: argparse.Namespace) -> int:
    from edge_agent.service.queue_report import id_hash

    config = load_config(args.config)
    if not config.service.hook.salt:
        raise UsageError(f"{args.config}: [hook] salt is not set")
    number = sys.stdin.readline().strip()
    if not number:
        raise UsageError("give the ID number on stdin (not as an argument: ps would show it)")
    print(id_hash(config.service.hook.salt, number))
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from edge_agent.hall_state import record_timeline  # snapshots: only this command

    config = load_config(args.config)
    args.source_name = str(args.timeline)
    if args.batch < 1:
        raise UsageError("--batch must be 1 or more")
    with _open_input(args.timeline) as stream, Journal(args.journal) as journal:
        if journal.head_seq:
            raise UsageError(f"{args.journal} already holds {journal.head_seq} records; "
                             "record into a new file")
        journal.set_meta("hall", config.hall_id)
        journal.claim_rules_version(RULES_VERSION)
        count = record_timeline(timeline_events(stream, EventParser(config.scale)), config,
                                journal, args.batch)
        head = journal.head.hex()
    print(f"recorded {count} events into {args.journal}; head {head}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    expect = None
    if args.head is not None:
        if not re.fullmatch(r"[0-9a-fA-F]{64}", args.head):
            raise UsageError("--head must be 64 hex digits")
        expect = bytes.fromhex(args.head)
    result = verify(args.journal, expect)
    if result.ok:
        print(f"ok: {result.records} records, head {result.head_seq} {result.head.hex()}")
        return 0
    held = (f"all {result.records} records verify as a chain" if result.chain_ok
            else f"the {result.records} records before it verify")
    print(f"BROKEN: {result.problem}\n({held}; last good head {result.head_seq} "
          f"{result.head.hex()})")
    return NOT_HOLDING


def cmd_check_config(args: argparse.Namespace) -> int:
    """The checks `run` makes before it touches anything: what one refuses, so does the other."""
    from edge_agent.service.checks import load_live_config

    config, warnings = load_live_config(args.config)
    for warning in warnings:
        print(f"warning: {args.config}: {warning}", file=sys.stderr)
    print(f"ok: hall {config.hall_id}, {len(config.counters)} counters, "
          f"{len(config.devices)} devices, scale {config.scale}")
    return 0


# --- helpers ----------------------------------------------------------------------------


def _common(args: argparse.Namespace) -> tuple[HallConfig, str]:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        raise UsageError(f"--month must be YYYY-MM, got {args.month!r}")
    if (args.timeline is None) == (args.journal is None):
        raise UsageError("give either a timeline file or --journal FILE")
    args.source_name = str(args.journal or args.timeline)
    return load_config(args.config), args.month


def _open_journal(args: argparse.Namespace, config: HallConfig) -> sqlite3.Connection:
    db = open_for_reading(args.journal)
    hall = read_meta(db, "hall")
    if hall is not None and hall != config.hall_id:
        db.close()
        raise UsageError(f"{args.journal} is the journal of hall {hall!r}, but "
                         f"{args.config} configures hall {config.hall_id!r}")
    return db


def _timeline(args: argparse.Namespace, config: HallConfig) -> Iterator[Any]:
    with _open_input(args.timeline) as stream:
        size = os.fstat(stream.fileno()).st_size
        bar = progress.Progress(size, "replay") if progress.wanted(size) else None
        yield from timeline_events(stream, EventParser(config.scale), bar)
        if bar is not None:
            bar.close()


@contextlib.contextmanager
def _open_input(path: Path) -> Iterator[BinaryIO]:
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with stream:
        yield stream


def _report_comparison(checked: JournalReplay | None) -> int:
    if checked is None:
        return 0
    changes = checked.changes
    if changes.disagreements:
        print(f"edge_agent: this journal was written under an older version of the rules; "
              f"rules version {RULES_VERSION} decides {changes.disagreements} of its records "
              "otherwise (a version's change, not tampering):", file=sys.stderr)
        for line in changes.shown:
            print(f"edge_agent:   {line}", file=sys.stderr)
    comparison = checked.comparison
    if not comparison.disagreements:
        return 0
    for line in comparison.shown:
        print(f"edge_agent: {line}", file=sys.stderr)
    print(f"edge_agent: replay disagrees with the journal on {comparison.disagreements} of "
          f"{comparison.checked} records (rules or configuration changed?)", file=sys.stderr)
    return NOT_HOLDING



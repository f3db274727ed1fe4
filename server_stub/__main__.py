"""``python -m server_stub serve --config center.toml --listen HOST:PORT [--redis URL]``.

Also ``python -m server_stub token``: a new agent token and the digest for center.toml;
``python -m server_stub user add|passwd|disable|list``: the console's accounts
(``server_stub.users_cli``).
``python -m server_stub archive --config center.toml --before YYYY-MM``: move each hall's
closed months before that month out of Redis into the archive folder (docs/scaling.md).
Storage: ``--redis URL`` if given, else ``[storage]`` of center.toml, else the local Redis.
Exit status 2 for bad input (a configuration error names the file and key); SIGTERM and
SIGINT stop the server cleanly (requests in flight finish first).
"""

from __future__ import annotations

import argparse
import logging
import re
import secrets
import signal
import sys
import threading
from pathlib import Path

import redis
import uvicorn

from edge_agent.config import ConfigError
from edge_agent.journal import JournalError
from server_stub import users_cli
from server_stub.app import create_app
from server_stub.archive import ArchiveError, archive_hall, months_back, now_us
from server_stub.config import CenterSettings, load_center_config, token_digest
from server_stub.storage import DEFAULT_URL, StorageSettings, chosen, connect
from server_stub.store import Store

log = logging.getLogger("server_stub")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    result: int = args.run(args)
    return result


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m server_stub",
                                description="The center: journal ingest, fault records, "
                                            "month reports, the console.")
    sub = p.add_subparsers(required=True, metavar="COMMAND")
    s = sub.add_parser("serve", help="run the HTTP API")
    s.add_argument("--config", required=True, help="the center's TOML file")
    s.add_argument("--listen", default="127.0.0.1:8600", help="HOST:PORT (default %(default)s)")
    s.add_argument("--redis", help="Redis URL (default: [storage] of the config, else "
                                   f"{DEFAULT_URL})")
    s.add_argument("--log-level", default="info", choices=("debug", "info", "warning"))
    s.set_defaults(run=cmd_serve)
    a = sub.add_parser("archive", help="move closed months out of Redis into month files")
    a.add_argument("--config", required=True, help="the center's TOML file")
    a.add_argument("--before", required=True, help="archive the months before YYYY-MM")
    a.add_argument("--redis", help="Redis URL (default: [storage] of the config)")
    a.add_argument("--dir", help="the archive folder (default: [archive] dir of the config)")
    a.add_argument("--hall", action="append", help="only this hall (repeatable)")
    a.set_defaults(run=cmd_archive)
    t = sub.add_parser("token", help="print a new token and its token_sha256 for center.toml")
    t.set_defaults(run=cmd_token)
    users_cli.add_parser(sub)
    return p


def cmd_serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    match = re.fullmatch(r"(\[[^\]]+\]|[^:\s]+):(\d{1,5})", args.listen)
    if match is None or not 0 < int(match[2]) < 65536:
        return _fail(f"--listen must be HOST:PORT like 127.0.0.1:8600, got {args.listen!r}")
    try:
        settings = load_center_config(args.config)
        storage = _storage(args, settings)
        client = connect(storage)
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc))
    archive_dir = settings.archive.dir if settings.archive else None
    store = Store(client, archive_dir)
    app = create_app(settings, store)
    host = match[1].strip("[]")
    log.info("center: %d halls, listening on %s, storage %s", len(settings.halls), args.listen,
             storage.describe())
    stop_archiving = _archive_periodically(store, settings)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=int(match[2]),
                                           log_level=args.log_level, access_log=False))
    # uvicorn handles SIGTERM / SIGINT (stop accepting, finish requests), then raises the
    # signal again for the handler it found: this one, so a clean stop exits with status 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stopped)
    server.run()
    stop_archiving.set()
    client.close()
    log.info("center: stopped")
    return 0


def _storage(args: argparse.Namespace, settings: CenterSettings) -> StorageSettings:
    return chosen(args.redis, settings.storage)


def _archive_periodically(store: Store, settings: CenterSettings) -> threading.Event:
    """A thread that runs the archive every [archive] every_hours (when set)."""
    stop = threading.Event()
    archive = settings.archive
    if archive is None or archive.every_hours <= 0:
        return stop

    def loop() -> None:
        while not stop.wait(archive.every_hours * 3600):
            for entry in settings.halls.values():
                before = months_back(now_us(), entry.config.tz, archive.keep_months)
                try:
                    outcome = archive_hall(store, entry.id, entry.config.tz, before)
                    log.info("archive: hall %s: %d months archived; %s", entry.id,
                             len(outcome.archived), outcome.kept)
                except (ArchiveError, JournalError, redis.RedisError, OSError) as exc:
                    log.error("archive: hall %s: %s", entry.id, exc)

    threading.Thread(target=loop, name="archive", daemon=True).start()
    return stop


def cmd_archive(args: argparse.Namespace) -> int:
    logging.basicConfig(level="INFO", format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.before):
        return _fail(f"--before must be YYYY-MM, got {args.before!r}")
    try:
        settings = load_center_config(args.config)
        storage = _storage(args, settings)
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc))
    folder = Path(args.dir) if args.dir else settings.archive.dir if settings.archive else None
    if folder is None:
        return _fail("no archive folder: give --dir or [archive] dir in the config")
    unknown = sorted(set(args.hall or ()) - set(settings.halls))
    if unknown:
        return _fail(f"--hall {unknown[0]!r}: not a hall of {args.config}")
    client = connect(storage)
    store = Store(client, folder)
    status = 0
    try:
        for entry in settings.halls.values():
            if args.hall and entry.id not in args.hall:
                continue
            try:
                outcome = archive_hall(store, entry.id, entry.config.tz, args.before)
            except (ArchiveError, JournalError) as exc:
                print(f"hall {entry.id}: error: {exc}", file=sys.stderr)
                status = 1
                continue
            for seg in outcome.archived:
                print(f"hall {entry.id}: {seg.month} archived: records {seg.first}-{seg.last}")
            print(f"hall {entry.id}: stopped: {outcome.kept}")
    except redis.RedisError as exc:
        print(f"server_stub: error: storage: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return status


def _stopped(signum: int, frame: object) -> None:
    log.info("center: stopping on signal %d", signum)


def cmd_token(args: argparse.Namespace) -> int:
    token = secrets.token_hex(24)
    print(f"token = \"{token}\"            # the agent's [center] token")
    print(f"token_sha256 = \"{token_digest(token)}\"   # center.toml")
    return 0


def _fail(message: str) -> int:
    print(f"server_stub: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

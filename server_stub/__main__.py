"""``python -m server_stub serve --config center.toml --listen HOST:PORT --redis URL``.

Also ``python -m server_stub token``: a new agent token and the digest for center.toml;
``python -m server_stub user add|passwd|disable|list``: the console's accounts
(``server_stub.users_cli``).
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

import redis
import uvicorn

from edge_agent.config import ConfigError
from server_stub import users_cli
from server_stub.app import create_app
from server_stub.config import load_center_config, token_digest
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
    s.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL")
    s.add_argument("--log-level", default="info", choices=("debug", "info", "warning"))
    s.set_defaults(run=cmd_serve)
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
        client = redis.Redis.from_url(args.redis)
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc))
    app = create_app(settings, Store(client))
    host = match[1].strip("[]")
    log.info("center: %d halls, listening on %s, storage %s", len(settings.halls), args.listen,
             args.redis)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=int(match[2]),
                                           log_level=args.log_level, access_log=False))
    # uvicorn handles SIGTERM / SIGINT (stop accepting, finish requests), then raises the
    # signal again for the handler it found: this one, so a clean stop exits with status 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stopped)
    server.run()
    client.close()
    log.info("center: stopped")
    return 0


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

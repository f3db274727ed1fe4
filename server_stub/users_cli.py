"""``python -m server_stub user add|passwd|disable|list``: the console's accounts.

The same storage options as ``serve`` (``--config center.toml --redis URL``). A password is
read from standard input, never from the command line (argv is visible to every user of the
machine): at a terminal it is asked twice without echo; from a pipe, one line is read, or two
equal lines when ``--confirm`` is given.
"""

from __future__ import annotations

import argparse
import getpass
import sys

import redis

from edge_agent.config import ConfigError
from server_stub.accounts import ROLES, AccountError, Accounts
from server_stub.config import load_center_config
from server_stub.storage import chosen, connect


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    u = sub.add_parser("user", help="the console's accounts (add, passwd, disable, list)")
    users = u.add_subparsers(required=True, metavar="ACTION")
    add = users.add_parser("add", help="a new account; its password from standard input")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--hall", action="append", default=[], metavar="ID",
                     help="a hall the account works for (repeat for several)")
    add.add_argument("--staff", metavar="ID", help="the staff id of a staff account")
    passwd = users.add_parser("passwd", help="a new password (ends the user's sessions)")
    passwd.add_argument("name")
    disable = users.add_parser("disable", help="refuse the account's logins and sessions")
    disable.add_argument("name")
    listing = users.add_parser("list", help="every account, its role and halls")
    for p, run in ((add, cmd_add), (passwd, cmd_passwd), (disable, cmd_disable),
                   (listing, cmd_list)):
        p.add_argument("--config", required=True, help="the center's TOML file")
        p.add_argument("--redis", help="Redis URL (default: [storage] of the config, else "
                                        "the local Redis)")
        if p is add or p is passwd:
            p.add_argument("--confirm", action="store_true",
                           help="from a pipe, read the password twice (two equal lines)")
        p.set_defaults(run=run)


def _open(args: argparse.Namespace) -> tuple[Accounts, set[str]]:
    settings = load_center_config(args.config)
    return Accounts(connect(chosen(args.redis, settings.storage))), set(settings.halls)


def read_password(confirm: bool) -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise AccountError("the two passwords differ")
        return first
    first = sys.stdin.readline().rstrip("\r\n")
    if confirm and sys.stdin.readline().rstrip("\r\n") != first:
        raise AccountError("the two password lines differ")
    return first


def _run(args: argparse.Namespace, action: str) -> int:
    try:
        accounts, halls = _open(args)
        if action == "add":
            user = accounts.add(args.name, args.role, args.hall, args.staff,
                                read_password(args.confirm), halls)
            print(f"user {user.name} added: {_describe(user.role, user.halls, user.staff)}")
        elif action == "passwd":
            accounts.require(args.name)
            user = accounts.passwd(args.name, read_password(args.confirm))
            print(f"user {user.name}: new password; older sessions ended")
        elif action == "disable":
            user = accounts.disable(args.name)
            print(f"user {user.name} disabled; sessions ended")
        else:
            for u in accounts.list():
                state = "disabled" if u.disabled else "enabled"
                print(f"{u.name}\t{_describe(u.role, u.halls, u.staff)}\t{state}")
    except (AccountError, ConfigError, ValueError) as exc:
        print(f"server_stub user: error: {exc}", file=sys.stderr)
        return 2
    except redis.RedisError as exc:
        print(f"server_stub user: error: storage ({args.redis or 'the configured Redis'}): "
              f"{exc}", file=sys.stderr)
        return 3
    return 0


def _describe(role: str, halls: tuple[str, ...], staff: str | None) -> str:
    where = "every hall" if role == "viewer" else "halls " + ",".join(halls)
    return f"{role} of {where}" + (f" (staff {staff})" if staff else "")


def cmd_add(args: argparse.Namespace) -> int:
    return _run(args, "add")


def cmd_passwd(args: argparse.Namespace) -> int:
    return _run(args, "passwd")


def cmd_disable(args: argparse.Namespace) -> int:
    return _run(args, "disable")


def cmd_list(args: argparse.Namespace) -> int:
    return _run(args, "list")

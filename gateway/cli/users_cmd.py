"""`gateway users add|list|disable|passwd`: the console's users, on the node's database.

The password is read from standard input when that is not a terminal (its first line, so
scripts can pipe it: `printf '%s\\n' "$PASSWORD" | gateway users add ...`), else asked twice
without echo. It is read and checked before the database is opened, and never printed.
Every change is written to the audit log with the actor `cli`.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from gateway.cli.common import add_config_argument, fail, with_store
from gateway.config import NodeConfig
from gateway.console.accounts import (
    AccountError,
    add_user,
    change_password,
    check_password,
    disable_user,
)
from gateway.console.context import CONSOLE_LANGUAGES, ConsoleLanguage, Role
from gateway.store import Store

# The node's country decides a new user's language when --lang is not given.
_COUNTRY_LANGUAGE: dict[str, ConsoleLanguage] = {"VN": "vi", "KH": "km"}


class PasswordUnreadable(Exception):  # noqa: N818 - a verdict shown to the user
    """No acceptable password could be read; the message says why."""


def register(commands: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    users = commands.add_parser(
        "users",
        help="console users: add, list, disable, set a password",
        description="Manage the users of the node's console. Passwords are read from standard "
        "input when it is not a terminal (the first line), else asked twice.",
    )
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="add a user")
    add_config_argument(add)
    add.add_argument("--role", choices=[role.value for role in Role], default=Role.OFFICER.value)
    add.add_argument(
        "--lang",
        choices=CONSOLE_LANGUAGES,
        help="the user's default language (default: the node's country's, else en)",
    )
    add.add_argument("name", metavar="NAME")
    add.set_defaults(handler=_with_password(with_store(_add), "users add"))

    listing = actions.add_parser("list", help="list the users")
    add_config_argument(listing)
    listing.set_defaults(handler=with_store(_list))

    disable = actions.add_parser("disable", help="disable a user and end their sessions")
    add_config_argument(disable)
    disable.add_argument("name", metavar="NAME")
    disable.set_defaults(handler=with_store(_disable))

    passwd = actions.add_parser(
        "passwd", help="set a user's password (ends their sessions, lifts a lock-out)"
    )
    add_config_argument(passwd)
    passwd.add_argument("name", metavar="NAME")
    passwd.set_defaults(handler=_with_password(with_store(_passwd), "users passwd"))


def read_password() -> str:
    """The new password: stdin's first line when piped, else typed twice at a prompt."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not password:
            raise PasswordUnreadable("expected the password on the first line of standard input")
    else:
        password = getpass.getpass("New password: ")
        if getpass.getpass("The same password again: ") != password:
            raise PasswordUnreadable("the two passwords differ; nothing was changed")
    try:
        return check_password(password)
    except AccountError as error:
        raise PasswordUnreadable(str(error)) from None


def _with_password(
    handler: Callable[[argparse.Namespace], int], command: str
) -> Callable[[argparse.Namespace], int]:
    def read_then_run(args: argparse.Namespace) -> int:
        try:
            args.password = read_password()
        except PasswordUnreadable as error:
            return fail(command, str(error))
        except (EOFError, KeyboardInterrupt):
            return fail(command, "no password given; nothing was changed")
        return handler(args)

    return read_then_run


async def _add(args: argparse.Namespace, config: NodeConfig, store: Store) -> int:
    language: ConsoleLanguage = args.lang or _COUNTRY_LANGUAGE.get(config.node.country, "en")
    try:
        user_id = await add_user(
            store, name=args.name, password=args.password, role=Role(args.role), language=language
        )
    except AccountError as error:
        return fail("users add", str(error))
    print(f"user {args.name} added (id {user_id}, role {args.role}, language {language})")
    return 0


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


async def _list(_args: argparse.Namespace, _config: NodeConfig, store: Store) -> int:
    now = datetime.now(UTC)
    print("NAME\tROLE\tLANGUAGE\tDISABLED\tLOCKED")
    for user in await store.console_users():
        locked = f"until {user.locked_until:%Y-%m-%d %H:%M:%S}Z" if user.locked(now) else "no"
        print(f"{user.name}\t{user.role}\t{user.language}\t{_yes_no(user.disabled)}\t{locked}")
    return 0


async def _disable(args: argparse.Namespace, _config: NodeConfig, store: Store) -> int:
    try:
        changed = await disable_user(store, args.name)
    except AccountError as error:
        return fail("users disable", str(error))
    outcome = "disabled; their sessions ended" if changed else "was disabled already"
    print(f"user {args.name} {outcome}")
    return 0


async def _passwd(args: argparse.Namespace, _config: NodeConfig, store: Store) -> int:
    try:
        ended = await change_password(store, name=args.name, password=args.password)
    except AccountError as error:
        return fail("users passwd", str(error))
    sessions = "session" if ended == 1 else "sessions"
    print(f"password of {args.name} changed; {ended} {sessions} ended")
    return 0

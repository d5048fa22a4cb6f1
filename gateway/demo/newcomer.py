"""What a newcomer needs to try the demo by hand within a minute: accounts, URLs and a `curl`.

Every node gets one console user per role, each with a generated password, created with
`accounts.add_user` (the one way users are made: the same hashing, checks and audit entry as
`gateway users add`). Users are made once the nodes are up, so each node's own migrations
have created the table; they default to their agency's language (Vietnamese or Khmer).

The passwords and each node's API client token are written to one file in the work directory,
0600, created in one exclusive open: it is the only place they are written (the terminal shows
the file's path, never a password). The printed `curl` reads its token from the client's own
0600 token file for the same reason, and posts a copy of a partner sample that the demo puts
in its work directory, so it runs from any directory and whatever the installation's layout.

The sample is the Vietnamese police's handover proposal (vn-police-json), posted to
vn-gialai-police's API for kh-ratanakiri-police: the demo's own exchange sends that file from
the BLO, so the curl's message is a new case at Ratanakiri, visible in its console and written
into its API client's drop folder in Khmer XML.
"""

from __future__ import annotations

import asyncio
import secrets
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from adapters import adapter_for
from gateway.console import Role
from gateway.console.accounts import add_user
from gateway.console.context import ConsoleLanguage
from gateway.demo.federation import DemoNode
from gateway.demo.routes import VN_JSON, DemoRoute, load_sample_bytes
from gateway.ops.private_files import private_folder, write_new_private
from gateway.store import Store

USERS_FILE = "console-users.txt"
# Long enough to be safe, short enough to type: 16 random bytes.
PASSWORD_BYTES = 16
LANGUAGES: dict[str, ConsoleLanguage] = {"VN": "vi", "KH": "km"}

CURL_ROUTE = DemoRoute("vn-gialai-police", "ban_giao.json", VN_JSON, ("kh-ratanakiri-police",))


@dataclass(frozen=True)
class DemoUser:
    node: str
    console_url: str
    name: str
    role: Role
    language: ConsoleLanguage
    password: str = field(repr=False)


def console_url(node: DemoNode) -> str:
    return f"{node.operations_url}/console/"


async def create_users(nodes: Sequence[DemoNode], stores: Mapping[str, Store]) -> list[DemoUser]:
    """One user per role on every node, named after the role, with a generated password."""
    users = [
        DemoUser(
            node=node.id,
            console_url=console_url(node),
            name=role.value,
            role=role,
            language=LANGUAGES.get(node.agency.country, "en"),
            password=secrets.token_urlsafe(PASSWORD_BYTES),
        )
        for node in nodes
        for role in Role
    ]
    # Each hash runs off the event loop; together they use every core for a moment.
    await asyncio.gather(
        *(
            add_user(
                stores[user.node],
                name=user.name,
                password=user.password,
                role=user.role,
                language=user.language,
            )
            for user in users
        )
    )
    return users


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


USERS_HEADER = ("NODE", "CONSOLE", "USER", "ROLE", "LANGUAGE", "PASSWORD")
CLIENTS_HEADER = ("NODE", "API", "CLIENT", "TOKEN", "FORMATS", "DROP-FOLDER")


def write_users_file(workdir: Path, users: Sequence[DemoUser], nodes: Sequence[DemoNode]) -> Path:
    """The accounts and API tokens, in a new 0600 file; returns its path."""
    lines = [
        "# gateway demo: console users and local API clients. Passwords and tokens are",
        "# generated for this run only; keep this file to yourself.",
        "",
        "Console users (sign in at CONSOLE):",
        *_table(
            USERS_HEADER,
            [
                (
                    user.node,
                    user.console_url,
                    user.name,
                    user.role.value,
                    user.language,
                    user.password,
                )
                for user in users
            ],
        ),
        "",
        "Local API clients (send Authorization: Bearer TOKEN to API; incoming messages are",
        "written into DROP-FOLDER in the first of FORMATS):",
        *_table(
            CLIENTS_HEADER,
            [
                (
                    node.id,
                    f"{node.operations_url}/api/v1/",
                    node.api_client.id,
                    node.api_client.token,
                    ",".join(node.api_client.formats),
                    str(node.api_client.drop_folder),
                )
                for node in nodes
            ],
        ),
    ]
    path = workdir / USERS_FILE
    write_new_private(path, ("\n".join(lines) + "\n").encode())
    return path


def place_curl_sample(workdir: Path, route: DemoRoute = CURL_ROUTE) -> Path:
    """A copy of the route's sample in workdir/samples/, for the printed curl to post."""
    folder = workdir / "samples"
    private_folder(folder)
    path = folder / route.sample
    write_new_private(path, load_sample_bytes(route))
    return path


def curl_command(sender: DemoNode, sample: Path, route: DemoRoute = CURL_ROUTE) -> str:
    """A shell command posting `sample` to the sender's API for the route's recipients."""
    recipients = ",".join(route.recipients)
    url = f"{sender.operations_url}/api/v1/messages?to={recipients}"
    token_file = shlex.quote(str(sender.api_client.token_file))
    return " ".join(
        [
            "curl -sS -i -X POST",
            shlex.quote(url),
            "-H",
            f'"Authorization: Bearer $(cat {token_file})"',
            "-H",
            shlex.quote(f"Content-Type: {adapter_for(route.format).media_type}"),
            "--data-binary",
            shlex.quote(f"@{sample}"),
        ]
    )


def print_newcomer_guide(
    nodes: Sequence[DemoNode], users_file: Path, curl: str, out: TextIO
) -> None:
    width = max(len(node.id) for node in nodes)
    print("Sign in to each node's console (users and passwords in the file below):", file=out)
    for node in nodes:
        print(f"  {node.id.ljust(width)}  {console_url(node)}", file=out)
    print(f"Console users, passwords and API tokens: {users_file}", file=out)
    print(
        f"Send a partner sample through {CURL_ROUTE.sender}'s API to "
        f"{', '.join(CURL_ROUTE.recipients)} (202, then a file in its drop folder):",
        file=out,
    )
    print(f"  {curl}", file=out)

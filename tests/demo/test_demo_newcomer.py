"""`gateway demo` left running, used as a newcomer would: the users file, sign-in, the curl.

One demo runs for the whole module (four real `gateway run` processes and an embedded
PostgreSQL); the tests read what it printed and wrote, sign in through each node's real
sign-in form, and run the printed `curl` in a shell exactly as printed.
"""

from __future__ import annotations

import json
import re
import signal
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest

from gateway.console import Role
from gateway.demo.federation import DEMO_AGENCIES
from gateway.demo.newcomer import CURL_ROUTE, USERS_FILE
from tests.demo.test_demo import GATEWAY

START_TIMEOUT_SECONDS = 180.0
DROP_TIMEOUT_SECONDS = 60.0
READY_LINE = "Press Ctrl-C"


@dataclass
class RunningDemo:
    workdir: Path
    process: subprocess.Popen[str]
    lines: list[str]

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class ListedUser:
    node: str
    console: str
    name: str
    role: str
    language: str
    password: str


@dataclass(frozen=True)
class ListedClient:
    node: str
    api: str
    client: str
    token: str
    formats: tuple[str, ...]
    drop_folder: Path


def _read_lines(process: subprocess.Popen[str], lines: list[str], ready: threading.Event) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith(READY_LINE):
            ready.set()
    ready.set()  # ended: let the fixture see it rather than wait for the timeout


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    workdir = tmp_path_factory.mktemp("newcomer") / "demo"
    process = subprocess.Popen(
        [GATEWAY, "demo", "--workdir", str(workdir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()
    reader = threading.Thread(target=_read_lines, args=(process, lines, ready), daemon=True)
    reader.start()
    try:
        ready.wait(START_TIMEOUT_SECONDS)
        assert process.poll() is None, "\n".join(lines)
        assert any(line.startswith(READY_LINE) for line in lines), "\n".join(lines)
        yield RunningDemo(workdir, process, lines)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        reader.join(timeout=10)
        assert process.stdout is not None
        process.stdout.close()
    # SIGTERM while it waits is the normal way to end a running demo: a clean exit.
    assert code == 0, "\n".join(lines)
    assert lines[-1] == f"demo: kept the work directory {workdir}", "\n".join(lines)


def _section(text: str, header_start: str) -> list[list[str]]:
    """The rows (split on blanks) of the table whose header line starts with header_start."""
    lines = text.splitlines()
    header = next(index for index, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[header + 1 :]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


def _users(demo: RunningDemo) -> list[ListedUser]:
    text = (demo.workdir / USERS_FILE).read_text(encoding="utf-8")
    return [ListedUser(*row) for row in _section(text, "NODE  ") if "/console/" in row[1]]


def _clients(demo: RunningDemo) -> list[ListedClient]:
    text = (demo.workdir / USERS_FILE).read_text(encoding="utf-8")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("NODE") and "TOKEN" in line)
    return [
        ListedClient(row[0], row[1], row[2], row[3], tuple(row[4].split(",")), Path(row[5]))
        for row in _section("\n".join(lines[start:]), "NODE")
    ]


def test_the_users_file_is_private_and_lists_every_role_on_every_node(demo: RunningDemo) -> None:
    users_file = demo.workdir / USERS_FILE
    assert stat.S_IMODE(users_file.stat().st_mode) == 0o600
    users = _users(demo)
    nodes = {agency.id for agency in DEMO_AGENCIES}
    assert {(user.node, user.role) for user in users} == {
        (node, role.value) for node in nodes for role in Role
    }
    assert len(users) == len(nodes) * len(Role)
    # Each password is generated: all different, long, and nowhere on the terminal.
    assert len({user.password for user in users}) == len(users)
    assert all(len(user.password) >= 20 for user in users)
    for user in users:
        assert user.password not in demo.output
        assert user.language == ("km" if user.node.startswith("kh-") else "vi")
    # The terminal names each console URL and the file's path.
    for url in {user.console for user in users}:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/console/", url)
        assert url in demo.output
    assert str(users_file) in demo.output

    clients = _clients(demo)
    assert {client.node for client in clients} == nodes
    for client in clients:
        assert client.token not in demo.output
        assert stat.S_IMODE(client.drop_folder.stat().st_mode) == 0o700
        assert client.drop_folder.is_relative_to(demo.workdir)


class _CsrfField(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.token: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        fields = dict(attrs)
        if tag == "input" and fields.get("name") == "csrf_token":
            self.token = fields.get("value")


async def _signed_in(session: aiohttp.ClientSession, user: ListedUser) -> None:
    sign_in = f"{user.console}sign-in"
    async with session.get(sign_in) as page:
        assert page.status == 200, user
        parser = _CsrfField()
        parser.feed(await page.text())
    assert parser.token, user
    form = {"name": user.name, "password": user.password, "csrf_token": parser.token}
    async with session.post(sign_in, data=form, allow_redirects=False) as answer:
        assert answer.status == 303, (user.node, user.name, answer.status)
        assert "sign-in" not in answer.headers["Location"], user


async def test_every_listed_user_signs_in_on_its_running_node(demo: RunningDemo) -> None:
    for user in _users(demo):
        # A cookie jar per user; unsafe=True lets it keep cookies of an IP address host.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            await _signed_in(session, user)
            # Signed in with the role the file gives: only operators and admins see the
            # operator page.
            async with session.get(f"{user.console}operator", allow_redirects=False) as page:
                expected = 200 if user.role in {Role.OPERATOR, Role.ADMIN} else 403
                assert page.status == expected, (user.node, user.name, page.status)
                html = await page.text()
            if user.node == "vn-gialai-blo" and page.status == 200:
                # The demo's exchange delivered the BLO's handover to Ratanakiri.
                assert re.search(
                    r'data-peer="kh-ratanakiri-police" data-reachability="reachable"', html
                ), html


def _printed_curl(demo: RunningDemo) -> str:
    commands = [line.strip() for line in demo.lines if line.strip().startswith("curl ")]
    assert len(commands) == 1, demo.output
    return commands[0]


def test_the_printed_curl_is_accepted_and_delivered_into_the_peers_drop_folder(
    demo: RunningDemo, tmp_path: Path
) -> None:
    # Run exactly as printed, from an unrelated directory, by a shell.
    result = subprocess.run(
        ["bash", "-c", _printed_curl(demo)],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    assert head.splitlines()[0].split()[1] == "202", result.stdout
    (queued,) = json.loads(body)["messages"]
    message_id = uuid.UUID(queued["id"])
    assert queued["to"] == "kh-ratanakiri-police"

    (recipient,) = CURL_ROUTE.recipients
    (client,) = [client for client in _clients(demo) if client.node == recipient]
    expected = client.drop_folder / f"victim_handover-{CURL_ROUTE.sender}-{message_id}.xml"
    deadline = time.monotonic() + DROP_TIMEOUT_SECONDS
    while not expected.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert expected.exists(), sorted(path.name for path in client.drop_folder.iterdir())
    assert stat.S_IMODE(expected.stat().st_mode) == 0o600
    assert expected.read_bytes().startswith(b"<?xml")  # Ratanakiri's own format

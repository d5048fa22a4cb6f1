"""`gateway users` as an operator runs it: real `gateway` processes on a real node database,
the password piped on standard input."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.console import ConsoleSettings
from gateway.console.accounts import sign_in
from tests.federation.harness import Federation

GATEWAY = str(Path(sys.executable).parent / "gateway")
BLO, RATANAKIRI = "vn-gialai-blo", "kh-ratanakiri-police"
PASSWORD = "đèo Lệ Thanh 2026"


def _users(
    federation: Federation, *args: str, stdin: str = "", node: str = BLO
) -> subprocess.CompletedProcess[str]:
    config = str(federation.config_path(node))
    action, *rest = args
    return subprocess.run(
        [GATEWAY, "users", action, "--config", config, *rest],
        input=stdin,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def _signs_in(federation: Federation, name: str, password: str) -> bool:
    store = await federation.store(BLO)
    try:
        signed_in, _ = await sign_in(
            store, ConsoleSettings(), name=name, password=password, now=datetime.now(UTC)
        )
    finally:
        await store.close()
    return signed_in is not None


async def test_add_list_passwd_disable(federation: Federation) -> None:
    await federation.add(BLO, RATANAKIRI)
    added = _users(federation, "add", "--role", "supervisor", "lan.nguyen", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout == "user lan.nguyen added (id 1, role supervisor, language vi)\n"
    # A Cambodian node's users default to Khmer; --lang overrides.
    added = _users(federation, "add", "sokha", stdin=PASSWORD, node=RATANAKIRI)
    assert "role officer, language km" in added.stdout, added.stderr
    added = _users(federation, "add", "--lang", "en", "--role", "operator", "ops", stdin=PASSWORD)
    assert added.returncode == 0, added.stderr
    assert await _signs_in(federation, "lan.nguyen", PASSWORD)

    new_password = "another long passphrase"
    changed = _users(federation, "passwd", "lan.nguyen", stdin=f"{new_password}\r\nignored\n")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout == "password of lan.nguyen changed; 1 session ended\n"
    assert not await _signs_in(federation, "lan.nguyen", PASSWORD)
    assert await _signs_in(federation, "lan.nguyen", new_password)

    disabled = _users(federation, "disable", "ops")
    assert disabled.returncode == 0, disabled.stderr
    assert disabled.stdout == "user ops disabled; their sessions ended\n"
    again = _users(federation, "disable", "ops")
    assert again.stdout == "user ops was disabled already\n"
    assert not await _signs_in(federation, "ops", PASSWORD)

    listed = _users(federation, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "NAME\tROLE\tLANGUAGE\tDISABLED\tLOCKED",
        "lan.nguyen\tsupervisor\tvi\tno\tno",
        "ops\toperator\ten\tyes\tno",
    ]

    store = await federation.store(BLO)
    try:
        audit = [(row.actor, row.action, row.subject) for row in await store.list_audit(100)]
    finally:
        await store.close()
    assert [entry for entry in audit if entry[0] == "cli"] == [
        ("cli", "user.added", "user:1"),
        ("cli", "user.added", "user:2"),
        ("cli", "user.password_changed", "user:1"),
        ("cli", "user.disabled", "user:2"),
    ]
    assert PASSWORD not in repr(audit) + listed.stdout + added.stdout


async def test_a_locked_user_is_listed_as_locked(federation: Federation) -> None:
    await federation.add(BLO)
    assert _users(federation, "add", "lan", stdin=PASSWORD).returncode == 0
    for attempt in range(ConsoleSettings().lockout_after_failures):
        assert not await _signs_in(federation, "lan", f"guess {attempt}")
    listed = _users(federation, "list")
    assert listed.stdout.splitlines()[1].startswith("lan\tofficer\tvi\tno\tuntil 20")
    # A new password lifts the lock.
    assert _users(federation, "passwd", "lan", stdin=PASSWORD + "!").returncode == 0
    assert await _signs_in(federation, "lan", PASSWORD + "!")


@pytest.mark.parametrize(
    ("args", "stdin", "error"),
    [
        (
            ("add", "lan"),
            "short1\n",
            "gateway users add: password: expected at least 12 characters, got 6",
        ),
        (
            ("add", "lan"),
            "",
            "gateway users add: expected the password on the first line of standard input",
        ),
        (
            ("add", "Lan Nguyen"),
            PASSWORD,
            "gateway users add: name: expected 1 to 63 lower-case letters",
        ),
        (
            ("add", "taken"),
            PASSWORD,
            "gateway users add: name: a user named 'taken' exists already",
        ),
        (("passwd", "nobody"), PASSWORD, "gateway users passwd: no user named 'nobody'"),
        (("disable", "nobody"), "", "gateway users disable: no user named 'nobody'"),
    ],
)
async def test_refusals_exit_1_with_a_clear_message(
    federation: Federation, args: tuple[str, ...], stdin: str, error: str
) -> None:
    await federation.add(BLO)
    assert _users(federation, "add", "taken", stdin=PASSWORD).returncode == 0
    refused = _users(federation, *args, stdin=stdin)
    assert refused.returncode == 1
    assert refused.stderr.startswith(error), refused.stderr
    assert "Traceback" not in refused.stderr
    assert _users(federation, "list").stdout.splitlines()[1:] == ["taken\tofficer\tvi\tno\tno"]

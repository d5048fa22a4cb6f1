"""Accounts against a real database: lock-out (also under concurrent attempts), session
expiry, disabling, new passwords and what each writes to the audit log.

The HTTP side (forms, cookies, CSRF) is in test_auth.py; these drive gateway.console.accounts
directly, with a clock the test sets, so that time limits are tested without waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from gateway.console import ConsoleSettings, Role, accounts
from gateway.console.accounts import (
    AccountError,
    add_user,
    change_password,
    disable_user,
    live_session,
    sign_in,
)
from gateway.crypto import passwords
from gateway.store import Store
from gateway.store.console_users import SignInRefusal

SETTINGS = ConsoleSettings()
PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


async def _user(store: Store, name: str = "lan.nguyen", role: Role = Role.OFFICER) -> int:
    return await add_user(store, name=name, password=PASSWORD, role=role, language="vi", now=T0)


async def _actions(store: Store) -> list[tuple[str, str, str]]:
    return [(row.actor, row.action, row.subject) for row in await store.list_audit(1000)]


async def test_five_failures_lock_the_account_until_the_lock_ends(store: Store) -> None:
    user_id = await _user(store)
    actor = f"user:{user_id}"
    for attempt in range(SETTINGS.lockout_after_failures):
        signed_in, outcome = await sign_in(
            store, SETTINGS, name="lan.nguyen", password=f"guess {attempt}", now=T0
        )
        assert signed_in is None
        assert outcome.refusal is SignInRefusal.WRONG_PASSWORD
    locked_until = T0 + SETTINGS.lockout_duration
    assert outcome.locked_until == locked_until
    row = await store.console_user("lan.nguyen")
    assert row is not None
    assert row.locked(T0)

    # While locked, even the right password is refused; the lock is not extended by it.
    just_before = locked_until - timedelta(seconds=1)
    signed_in, outcome = await sign_in(
        store, SETTINGS, name="lan.nguyen", password=PASSWORD, now=just_before
    )
    assert signed_in is None
    assert outcome.refusal is SignInRefusal.LOCKED

    signed_in, outcome = await sign_in(
        store, SETTINGS, name="lan.nguyen", password=PASSWORD, now=locked_until
    )
    assert signed_in is not None
    assert signed_in.user.id == user_id

    actions = await _actions(store)
    assert actions == [
        ("cli", "user.added", actor),
        *[(actor, "console.sign_in_failed", actor)] * 5,
        (actor, "console.locked_out", actor),
        (actor, "console.sign_in_failed", actor),
        (actor, "console.sign_in", actor),
    ]
    details = [row.detail for row in await store.list_audit(1000)]
    assert details[5] == {"reason": "wrong_password"}
    assert details[6] == {"until": locked_until.isoformat()}
    assert details[7] == {"reason": "locked"}


async def test_a_success_resets_the_failure_count(store: Store) -> None:
    await _user(store)
    for round_ in range(3):
        for attempt in range(SETTINGS.lockout_after_failures - 1):
            _, outcome = await sign_in(
                store, SETTINGS, name="lan.nguyen", password=f"{round_}{attempt}", now=T0
            )
            assert outcome.refusal is SignInRefusal.WRONG_PASSWORD
        signed_in, _ = await sign_in(store, SETTINGS, name="lan.nguyen", password=PASSWORD, now=T0)
        assert signed_in is not None


async def test_concurrent_guesses_cannot_exceed_the_limit(store: Store) -> None:
    """Twelve wrong guesses at once: exactly five are judged, the fifth locks, the rest find
    the account locked; then the right password, sent with them, is refused too."""
    await _user(store)
    guesses = [
        sign_in(store, SETTINGS, name="lan.nguyen", password=f"guess {n}", now=T0)
        for n in range(12)
    ]
    outcomes = [outcome for _, outcome in await asyncio.gather(*guesses)]
    reasons = sorted(str(outcome.refusal) for outcome in outcomes)
    assert reasons == ["locked"] * 7 + ["wrong_password"] * 5
    assert sum(outcome.locked_until is not None for outcome in outcomes) == 1
    actions = [action for _, action, _ in await _actions(store)]
    assert actions.count("console.locked_out") == 1
    signed_in, outcome = await sign_in(
        store, SETTINGS, name="lan.nguyen", password=PASSWORD, now=T0
    )
    assert signed_in is None
    assert outcome.refusal is SignInRefusal.LOCKED


@pytest.mark.parametrize(
    ("name", "password", "refusal"),
    [
        ("lan.nguyen", "not the password", SignInRefusal.WRONG_PASSWORD),
        ("nobody", PASSWORD, SignInRefusal.UNKNOWN_USER),
        ("disabled.user", PASSWORD, SignInRefusal.DISABLED),
    ],
)
async def test_refusals_are_audited_without_the_typed_name_or_password(
    store: Store, name: str, password: str, refusal: SignInRefusal
) -> None:
    await _user(store)
    await _user(store, "disabled.user")
    await disable_user(store, "disabled.user", now=T0)
    signed_in, outcome = await sign_in(store, SETTINGS, name=name, password=password, now=T0)
    assert signed_in is None
    assert outcome.refusal is refusal
    last = (await store.list_audit(1))[0]
    assert last.action == "console.sign_in_failed"
    assert last.detail == {"reason": refusal.value}
    if refusal is SignInRefusal.UNKNOWN_USER:
        assert (last.actor, last.subject) == ("console", hashlib.sha256(b"nobody").hexdigest())
    else:
        row = await store.console_user(name)
        assert row is not None
        assert last.actor == last.subject == f"user:{row.id}"
    everything = repr(await store.list_audit(1000))
    assert PASSWORD not in everything
    assert "not the password" not in everything
    assert "nobody" not in everything


@pytest.mark.parametrize(
    ("uses", "then", "alive"),
    [
        # Each use within the idle timeout moves the idle end.
        ([timedelta(minutes=25)], timedelta(minutes=50), True),
        ([], SETTINGS.session_idle_timeout - timedelta(seconds=1), True),
        ([], SETTINGS.session_idle_timeout, False),
        # Used every 20 minutes, the session still ends at its absolute lifetime.
        (
            [timedelta(minutes=20) * n for n in range(1, 36)],
            SETTINGS.session_lifetime - timedelta(seconds=1),
            True,
        ),
        (
            [timedelta(minutes=20) * n for n in range(1, 36)],
            SETTINGS.session_lifetime,
            False,
        ),
    ],
)
async def test_sessions_end_when_idle_or_at_their_lifetime(
    store: Store, uses: list[timedelta], then: timedelta, alive: bool
) -> None:
    await _user(store)
    signed_in, _ = await sign_in(store, SETTINGS, name="lan.nguyen", password=PASSWORD, now=T0)
    assert signed_in is not None
    for use in uses:
        assert await live_session(store, SETTINGS, signed_in.session_id, now=T0 + use)
    found = await live_session(store, SETTINGS, signed_in.session_id, now=T0 + then)
    assert (found is not None) == alive


async def test_disabling_ends_the_sessions_at_once(store: Store) -> None:
    await _user(store)
    signed_in, _ = await sign_in(store, SETTINGS, name="lan.nguyen", password=PASSWORD, now=T0)
    assert signed_in is not None
    assert await live_session(store, SETTINGS, signed_in.session_id, now=T0)
    assert await disable_user(store, "lan.nguyen", now=T0) is True
    assert await live_session(store, SETTINGS, signed_in.session_id, now=T0) is None
    assert await disable_user(store, "lan.nguyen", now=T0) is False
    actions = [action for _, action, _ in await _actions(store)]
    assert actions.count("user.disabled") == 1


async def test_a_new_password_ends_the_other_sessions_and_lifts_a_lock(store: Store) -> None:
    await _user(store)
    sessions = []
    for _ in range(3):
        signed_in, _ = await sign_in(store, SETTINGS, name="lan.nguyen", password=PASSWORD, now=T0)
        assert signed_in is not None
        sessions.append(signed_in.session_id)
    for attempt in range(SETTINGS.lockout_after_failures):
        await sign_in(store, SETTINGS, name="lan.nguyen", password=str(attempt), now=T0)
    new_password = "a much longer passphrase"
    ended = await change_password(
        store, name="lan.nguyen", password=new_password, keep_session_id=sessions[0], now=T0
    )
    assert ended == 2
    assert [
        await live_session(store, SETTINGS, session_id, now=T0) is not None
        for session_id in sessions
    ] == [True, False, False]
    signed_in, _ = await sign_in(store, SETTINGS, name="lan.nguyen", password=PASSWORD, now=T0)
    assert signed_in is None
    signed_in, _ = await sign_in(store, SETTINGS, name="lan.nguyen", password=new_password, now=T0)
    assert signed_in is not None
    last_change = [row for row in await store.list_audit(1000) if row.action.startswith("user.p")]
    assert [row.detail for row in last_change] == [{"sessions_ended": 2}]


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("Lan", PASSWORD, "name: expected 1 to 63 lower-case letters"),
        ("lan nguyen", PASSWORD, "name: expected 1 to 63 lower-case letters"),
        ("", PASSWORD, "name: expected 1 to 63 lower-case letters"),
        ("x" * 64, PASSWORD, "name: expected 1 to 63 lower-case letters"),
        ("lan", "short pass1", "password: expected at least 12 characters, got 11"),
        ("lan.nguyen", PASSWORD, "name: a user named 'lan.nguyen' exists already"),
    ],
)
async def test_bad_users_are_refused_with_the_field_named(
    store: Store, name: str, password: str, message: str
) -> None:
    await _user(store)
    with pytest.raises(AccountError) as refused:
        await add_user(store, name=name, password=password, role=Role.OFFICER, language="en")
    assert str(refused.value).startswith(message)
    assert len(await store.console_users()) == 1


async def test_concurrent_hashes_are_bounded(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """However many sign-ins arrive at once, at most MAX_CONCURRENT_HASHES Argon2id hashes
    (64 MiB each) run at the same time; the rest wait their turn."""
    names = [f"user-{n}" for n in range(6)]
    for name in names:
        await _user(store, name)
    running = 0
    most = 0
    lock = threading.Lock()
    real = passwords.password_matches

    def counted(password_hash: str, password: str) -> bool:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            return real(password_hash, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr("gateway.console.accounts.password_matches", counted)
    # Distinct accounts: attempts on one account are serialised by its row lock anyway.
    attempts = [sign_in(store, SETTINGS, name=name, password=PASSWORD, now=T0) for name in names]
    results = await asyncio.gather(*attempts)
    assert all(signed_in is not None for signed_in, _ in results)
    assert most == accounts.MAX_CONCURRENT_HASHES


async def test_a_hand_written_disable_ends_the_sessions_too(store: Store, database: str) -> None:
    """The trigger, not only the store's statement, ends a disabled user's sessions."""
    await _user(store)
    signed_in, _ = await sign_in(store, SETTINGS, name="lan.nguyen", password=PASSWORD, now=T0)
    assert signed_in is not None
    connection = await asyncpg.connect(database)
    try:
        assert await connection.fetchval("SELECT count(*) FROM console_sessions") == 1
        await connection.execute("UPDATE console_users SET disabled = true")
        assert await connection.fetchval("SELECT count(*) FROM console_sessions") == 0
    finally:
        await connection.close()

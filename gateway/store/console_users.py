"""Console users, sign-in attempts and sessions: the store's side of the console's auth.

Design notes:
- A sign-in attempt reads the user's row FOR UPDATE and writes its outcome (failure count,
  lock, session, audit entries) in the same transaction, while the caller checks the password
  in between. Attempts on one account therefore run one after the other, in every process
  sharing the database: five concurrent wrong guesses lock the account exactly as five
  sequential ones do, and a guess that waited behind the fifth finds it locked. The caller
  bounds how many attempts run at once (gateway.console.accounts), so a flood of sign-ins
  ties up a few connections, not the pool.
- The password is checked whether or not the account exists, is disabled or is locked
  (the caller gets None as the hash for an unknown name and checks against a dummy), so an
  attacker learns nothing from the time an answer takes; the outcome's reason is for the
  audit log only, never for the page.
- Sessions are stored by the SHA-256 of their id; times come from the caller's clock.
- Audit entries are written in the transaction of the change they record. An unknown name
  is recorded by its SHA-256, never as typed: people type passwords into the name field.

Kept apart from store.py (a mixin of Store); it shares the pool and the audit appender.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from gateway.store.part import StorePart
from gateway.store.queries import Q
from gateway.store.records import AuditEntry

# The actor of entries about attempts that name no known user.
CONSOLE_ACTOR = "console"


class DuplicateUserError(Exception):
    """A console user of that name exists already."""


class UnknownUserError(Exception):
    """No console user has that name."""


class SignInRefusal(StrEnum):
    """Why an attempt failed: for the audit log, never shown (every refusal looks alike)."""

    UNKNOWN_USER = "unknown_user"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105 - a reason code, not a password
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True)
class ConsoleUserRow:
    id: int
    name: str
    role: str
    language: str
    disabled: bool
    failed_signins: int
    locked_until: datetime | None
    created_at: datetime

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True)
class SessionUser:
    """The user behind a live session, and the session's CSRF token."""

    id: int
    name: str
    role: str
    language: str
    csrf_token: str


@dataclass(frozen=True)
class NewSession:
    id_sha256: bytes
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class LockOut:
    after_failures: int
    duration: timedelta


@dataclass(frozen=True)
class SignInOutcome:
    """The signed-in user, or the refusal (with the lock's end when this attempt locked)."""

    user: SessionUser | None
    refusal: SignInRefusal | None = None
    locked_until: datetime | None = None


# Checks a password against a stored hash (None: no such user; check against a dummy).
PasswordCheck = Callable[[str | None], Awaitable[bool]]


def name_digest(name: str) -> str:
    """How an unknown sign-in name appears in the audit log."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def user_actor(user_id: int) -> str:
    return f"user:{user_id}"


class ConsoleUsers(StorePart):
    """Mixed into Store: console users and sessions."""

    async def add_console_user(
        self,
        *,
        name: str,
        role: str,
        language: str,
        password_hash: str,
        actor: str,
        now: datetime,
    ) -> int:
        """The new user's id; DuplicateUserError when the name is taken."""
        async with self._pool.acquire() as connection, connection.transaction():
            user_id: int | None = await connection.fetchval(
                Q.console_user_insert, name, role, language, password_hash, now
            )
            if user_id is None:
                raise DuplicateUserError(name)
            await self._append_audit(
                connection,
                [
                    AuditEntry(
                        actor,
                        "user.added",
                        user_actor(user_id),
                        {"name": name, "role": role, "language": language},
                    )
                ],
                now,
            )
        return user_id

    async def console_users(self) -> list[ConsoleUserRow]:
        async with self._pool.acquire() as connection:
            rows = await connection.fetch(Q.console_user_list)
        return [ConsoleUserRow(**dict(row)) for row in rows]

    async def console_user(self, name: str) -> ConsoleUserRow | None:
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.console_user_find, name)
        return None if row is None else ConsoleUserRow(**dict(row))

    async def disable_console_user(self, name: str, *, actor: str, now: datetime) -> bool:
        """Disable the user and end their sessions; False when already disabled.
        UnknownUserError when no user has that name."""
        async with self._pool.acquire() as connection, connection.transaction():
            user_id: int | None = await connection.fetchval(Q.console_user_disable, name, now)
            if user_id is None:
                if await connection.fetchrow(Q.console_user_find, name) is None:
                    raise UnknownUserError(name)
                return False
            await self._append_audit(
                connection, [AuditEntry(actor, "user.disabled", user_actor(user_id))], now
            )
        return True

    async def set_console_password(
        self,
        name: str,
        password_hash: str,
        *,
        actor: str,
        now: datetime,
        keep_session_sha256: bytes | None = None,
    ) -> int:
        """Replace the user's password hash, lift a lock-out and end every session of the
        user but `keep_session_sha256` (the one that changed it, if any); the number of
        sessions ended. UnknownUserError when no user has that name."""
        async with self._pool.acquire() as connection, connection.transaction():
            user_id: int | None = await connection.fetchval(
                Q.console_user_set_password, name, password_hash, now
            )
            if user_id is None:
                raise UnknownUserError(name)
            ended: int = await connection.fetchval(
                Q.console_sessions_end_others, user_id, keep_session_sha256
            )
            await self._append_audit(
                connection,
                [
                    AuditEntry(
                        actor,
                        "user.password_changed",
                        user_actor(user_id),
                        {"sessions_ended": ended},
                    )
                ],
                now,
            )
        return ended

    async def console_sign_in(
        self,
        name: str,
        check: PasswordCheck,
        *,
        session: NewSession,
        lockout: LockOut,
        idle_timeout: timedelta,
        now: datetime,
    ) -> SignInOutcome:
        """One sign-in attempt, judged and recorded atomically (see the module's notes)."""
        async with self._pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(Q.console_user_for_sign_in, name)
            matches = await check(None if row is None else row["password_hash"])
            if row is None:
                entry = AuditEntry(
                    CONSOLE_ACTOR,
                    "console.sign_in_failed",
                    name_digest(name),
                    {"reason": SignInRefusal.UNKNOWN_USER.value},
                )
                await self._append_audit(connection, [entry], now)
                return SignInOutcome(None, SignInRefusal.UNKNOWN_USER)
            actor = user_actor(row["id"])
            refusal: SignInRefusal | None = None
            if row["disabled"]:
                refusal = SignInRefusal.DISABLED
            elif row["locked_until"] is not None and row["locked_until"] > now:
                refusal = SignInRefusal.LOCKED
            elif not matches:
                refusal = SignInRefusal.WRONG_PASSWORD
            if refusal is not None:
                entries = [
                    AuditEntry(actor, "console.sign_in_failed", actor, {"reason": refusal.value})
                ]
                locked_until: datetime | None = None
                if refusal is SignInRefusal.WRONG_PASSWORD:
                    failed = await connection.fetchrow(
                        Q.console_user_sign_in_failed,
                        row["id"],
                        now,
                        lockout.after_failures,
                        lockout.duration,
                    )
                    assert failed is not None  # the row is locked by this transaction
                    if failed["locked"]:
                        locked_until = failed["locked_until"]
                        entries.append(
                            AuditEntry(
                                actor,
                                "console.locked_out",
                                actor,
                                {"until": failed["locked_until"].isoformat()},
                            )
                        )
                await self._append_audit(connection, entries, now)
                return SignInOutcome(None, refusal, locked_until)
            await connection.execute(Q.console_user_signed_in, row["id"], now)
            # Expired sessions of anyone go here: sign-ins are rare enough to carry it.
            await connection.execute(Q.console_sessions_purge, now, idle_timeout)
            await connection.execute(
                Q.console_session_insert,
                session.id_sha256,
                row["id"],
                session.csrf_token,
                now,
                session.expires_at,
            )
            await self._append_audit(connection, [AuditEntry(actor, "console.sign_in", actor)], now)
            return SignInOutcome(
                SessionUser(
                    row["id"], row["name"], row["role"], row["language"], session.csrf_token
                )
            )

    async def console_session(
        self, id_sha256: bytes, *, idle_timeout: timedelta, now: datetime
    ) -> SessionUser | None:
        """The live session's user (and the session's idle end moved), or None."""
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(Q.console_session_touch, id_sha256, now, idle_timeout)
        return None if row is None else SessionUser(**dict(row))

    async def end_console_session(self, id_sha256: bytes, *, now: datetime) -> bool:
        """Delete the session (signing out); False when there was none."""
        async with self._pool.acquire() as connection, connection.transaction():
            user_id: int | None = await connection.fetchval(Q.console_session_delete, id_sha256)
            if user_id is None:
                return False
            actor = user_actor(user_id)
            await self._append_audit(
                connection, [AuditEntry(actor, "console.sign_out", actor)], now
            )
        return True

"""Ceilings, in the bench process (one Python thread): seal and open_envelope of the same
~1 KiB envelope, sign_receipt and verify_receipt; and a bare asyncpg loop over a plain table
of 1 KiB bytea rows in the same PostgreSQL: one row per statement in autocommit, executemany
in batches of 100 (one implicit transaction each), SELECT 1 round trips and 100 single-row
INSERTs per explicit transaction (the gateway's own pattern before group commit)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from bench.exchange.cluster import now_utc
from bench.exchange.messages import MESSAGE_TTL, Sealer
from bench.exchange.targets import RECEIVER, SENDER
from gateway.crypto import (
    EnvelopeLimits,
    Keyring,
    open_envelope,
    seal,
    sign_receipt,
    verify_receipt,
)
from gateway.store import EmbeddedPostgres
from gateway.wire import Kind, envelope, uuid7


@dataclass
class Rate:
    operations: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds

    @property
    def micros(self) -> float:
        return self.seconds / self.operations * 1e6


def repeat(operation: Callable[[int], object], seconds: float, bunch: int = 50) -> Rate:
    """Call operation(i) in bunches until `seconds` have passed."""
    done = 0
    started = time.perf_counter()
    while True:
        for i in range(done, done + bunch):
            operation(i)
        done += bunch
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return Rate(done, elapsed)


async def repeat_async(
    operation: Callable[[int], Awaitable[object]], seconds: float, unit: int = 1
) -> Rate:
    """Await operation(i) until `seconds` have passed; each call counts `unit` operations."""
    done = 0
    started = time.perf_counter()
    while True:
        await operation(done)
        done += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return Rate(done * unit, elapsed)


@dataclass
class Ceilings:
    seal: Rate
    open: Rate
    sign_receipt: Rate
    verify_receipt: Rate
    select_1: Rate
    insert_autocommit: Rate
    insert_executemany_100: Rate
    insert_100_per_transaction: Rate

    @property
    def seal_open_per_second(self) -> float:
        return 1e6 / (self.seal.micros + self.open.micros)

    @property
    def sign_verify_per_second(self) -> float:
        return 1e6 / (self.sign_receipt.micros + self.verify_receipt.micros)

    @property
    def exchange_crypto_per_second(self) -> float:
        """open + sign + verify: the crypto the exchange itself does per message."""
        return 1e6 / (self.open.micros + self.sign_receipt.micros + self.verify_receipt.micros)


def crypto_ceilings(
    sender: Keyring, receiver: Keyring, sealer: Sealer, seconds: float
) -> dict[str, Rate]:
    now = now_utc()
    message = sealer.message()
    case_id = uuid.uuid4()
    message.case_id = str(case_id)
    payload = envelope.SealedPayload(message=message.SerializeToString())
    limits = EnvelopeLimits()
    sealed: list[bytes] = []

    def do_seal(_: int) -> None:
        result = seal(
            sender,
            recipient=RECEIVER,
            kind=Kind.HOTLINE_ALERT,
            case_id=case_id,
            message_id=uuid7(),
            payload=payload,
            created_at=now,
            expires_at=now + MESSAGE_TTL,
        )
        if len(sealed) < 1000:
            sealed.append(result.data)

    rates = {"seal": repeat(do_seal, seconds)}
    rates["open"] = repeat(
        lambda i: open_envelope(receiver, sealed[i % len(sealed)], now=now, limits=limits),
        seconds,
    )
    receipts = [
        sign_receipt(
            receiver, envelope_data=data, message_id=uuid7(), sender=SENDER, received_at=now
        )
        for data in sealed
    ]
    rates["sign_receipt"] = repeat(
        lambda i: sign_receipt(
            receiver,
            envelope_data=sealed[i % len(sealed)],
            message_id=case_id,
            sender=SENDER,
            received_at=now,
        ),
        seconds,
    )
    receiver_keys = sender.peer_keys(RECEIVER)
    rates["verify_receipt"] = repeat(
        lambda i: verify_receipt(
            receipts[i % len(receipts)],
            receiver=RECEIVER,
            receiver_keys=receiver_keys,
            envelope_data=sealed[i % len(sealed)],
        ),
        seconds,
    )
    return rates


async def database_ceilings(postgres: EmbeddedPostgres, seconds: float) -> dict[str, Rate]:
    dsn = await postgres.ensure_database("bench_ceiling")
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "DROP TABLE IF EXISTS bench_rows;"
            " CREATE TABLE bench_rows (id bigserial PRIMARY KEY, data bytea NOT NULL)"
        )
        row = os.urandom(1024)
        insert = "INSERT INTO bench_rows (data) VALUES ($1)"
        rates = {"select_1": await repeat_async(lambda _: connection.fetchval("SELECT 1"), seconds)}
        rates["insert_autocommit"] = await repeat_async(
            lambda _: connection.execute(insert, row), seconds
        )
        batch = [(row,)] * 100
        rates["insert_executemany_100"] = await repeat_async(
            lambda _: connection.executemany(insert, batch), seconds, unit=100
        )

        async def hundred_in_one_transaction(_: int) -> None:
            async with connection.transaction():
                for _ in range(100):
                    await connection.execute(insert, row)

        rates["insert_100_per_transaction"] = await repeat_async(
            hundred_in_one_transaction, seconds, unit=100
        )
        return rates
    finally:
        await connection.close()

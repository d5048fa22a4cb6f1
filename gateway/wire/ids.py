"""Message and case identifiers.

Message ids are UUIDv7 (RFC 9562): the leading 48 bits are the Unix time in milliseconds, so
ids sort by creation time in indexes and logs, and the 74 random bits make collisions between
nodes negligible without any coordination. Case ids are UUIDv4 or UUIDv7; the protocol does
not care which.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7(unix_ms: int | None = None, random_bytes: bytes | None = None) -> uuid.UUID:
    """A new UUIDv7; both arguments exist for reproducible test vectors only."""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    if not 0 <= ms < 1 << 48:
        raise ValueError("unix_ms out of range for UUIDv7")
    rand = os.urandom(10) if random_bytes is None else random_bytes
    if len(rand) != 10:
        raise ValueError("UUIDv7 needs 10 random bytes")
    value = bytearray(ms.to_bytes(6, "big") + rand)
    value[6] = 0x70 | (value[6] & 0x0F)
    value[8] = 0x80 | (value[8] & 0x3F)
    return uuid.UUID(bytes=bytes(value))


def is_uuid7(value: uuid.UUID) -> bool:
    """True for an RFC 9562 version-7 UUID."""
    return value.version == 7 and value.variant == uuid.RFC_4122


def uuid7_unix_ms(value: uuid.UUID) -> int:
    """The millisecond timestamp a UUIDv7 carries."""
    return int.from_bytes(value.bytes[:6], "big")

"""Key announcements: a node tells its peers its next key pair, signed by its current one.

An announcement is an ordinary envelope (sealed, signed, receipted, queued and retried like
any message) of the control kind KEY_ANNOUNCEMENT, whose sealed payload holds a
`blg.v1.KeyAnnouncement` instead of a `blg.v1.Message` (docs/PROTOCOL.md section 12). Riding
the federation path means no new endpoint, no new trust: it is exactly as authentic as the
key that signed it, and the sender learns from the receipt that the peer recorded it.

What makes it safe to act on: the signing key must be valid not only at the envelope's
`created` (check 7 of section 5, which a backdating holder of an old, stolen key passes) but
at the receiver's `now` (`key_not_current`), and an announcement may add key ids and shorten
windows, never give a known key id other public keys (`key_conflict`). Pure functions: the
receiver records what read_announcement returns, the rollover queues what
seal_announcement makes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from gateway.crypto import (
    EnvelopeRejected,
    Keyring,
    KeyValidity,
    OpenedEnvelope,
    PublicKeyPair,
    RejectReason,
    SealedEnvelope,
    seal,
)
from gateway.crypto.envelope import from_unix_ms, is_representable_ms, to_unix_ms
from gateway.federation.control_payload import parse_control
from gateway.wire import ControlKind, envelope, uuid7

ANNOUNCEMENT_VERSION = 1
MAX_ANNOUNCED_KEYS = 16
# Announcements belong to no case; the header still needs one (section 3.2).
NO_CASE = uuid.UUID(int=0)
_KEY_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def announcement_payload(node_id: str, keys: Sequence[PublicKeyPair]) -> envelope.SealedPayload:
    """The sealed payload announcing keys as node_id's."""
    message = envelope.KeyAnnouncement(
        version=ANNOUNCEMENT_VERSION,
        node=node_id,
        keys=[
            envelope.PublishedKey(
                key_id=key.key_id,
                signing_public_key=key.signing_public,
                encryption_public_key=key.encryption_public,
                valid_from_ms=to_unix_ms(key.validity.valid_from),
                valid_until_ms=to_unix_ms(key.validity.valid_until),
            )
            for key in keys
        ],
    )
    return envelope.SealedPayload(message=message.SerializeToString())


def seal_announcement(
    keyring: Keyring,
    *,
    recipient: str,
    keys: Sequence[PublicKeyPair],
    now: datetime,
    ttl: timedelta,
) -> SealedEnvelope:
    """An announcement of keys for recipient, signed by the key the keyring uses toward it
    now (a withheld new key is passed over, so the signer is one the peer holds)."""
    return seal(
        keyring,
        recipient=recipient,
        kind=ControlKind.KEY_ANNOUNCEMENT,
        case_id=NO_CASE,
        message_id=uuid7(),
        payload=announcement_payload(keyring.node_id, keys),
        created_at=now,
        expires_at=now + ttl,
    )


def _malformed(detail: str) -> EnvelopeRejected:
    return EnvelopeRejected(RejectReason.ANNOUNCEMENT_MALFORMED, detail)


def _published(index: int, key: envelope.PublishedKey) -> PublicKeyPair:
    place = f"keys[{index}]"
    key_id = key.key_id
    if not (0 < len(key_id) <= 64 and set(key_id) <= _KEY_ID_CHARS and key_id[0] not in "._-"):
        raise _malformed(f"{place}.key_id: expected a key id (section 1)")
    for name in ("signing_public_key", "encryption_public_key"):
        if len(getattr(key, name)) != 32:
            raise _malformed(f"{place}.{name}: expected 32 bytes")
    for name in ("valid_from_ms", "valid_until_ms"):
        if not is_representable_ms(getattr(key, name)):
            raise _malformed(f"{place}.{name}: expected a representable instant")
    if key.valid_until_ms <= key.valid_from_ms:
        raise _malformed(f"{place}.valid_until_ms: expected an instant after valid_from_ms")
    return PublicKeyPair(
        key_id,
        key.signing_public_key,
        key.encryption_public_key,
        KeyValidity(from_unix_ms(key.valid_from_ms), from_unix_ms(key.valid_until_ms)),
    )


def read_announcement(
    opened: OpenedEnvelope, *, now: datetime, known: Sequence[PublicKeyPair]
) -> list[PublicKeyPair]:
    """The keys an opened KEY_ANNOUNCEMENT envelope announces, checked in the order of
    section 12.3; raises EnvelopeRejected. known: the sender's keys this node holds."""
    header = opened.header
    if not opened.sender_key.validity.covers(now):
        raise EnvelopeRejected(
            RejectReason.KEY_NOT_CURRENT,
            f"sender key {opened.sender_key.key_id!r} is not valid now",
        )
    message = parse_control(
        opened,
        envelope.KeyAnnouncement(),
        version=ANNOUNCEMENT_VERSION,
        reason=RejectReason.ANNOUNCEMENT_MALFORMED,
    )
    if message.node != header.sender:
        raise _malformed("node: expected the envelope's sender")
    if not 0 < len(message.keys) <= MAX_ANNOUNCED_KEYS:
        raise _malformed(f"keys: expected 1 to {MAX_ANNOUNCED_KEYS} keys")
    keys = [_published(index, key) for index, key in enumerate(message.keys)]
    if len({key.key_id for key in keys}) != len(keys):
        raise _malformed("keys: a key id appears twice")
    held = {key.key_id: key for key in known}
    for key in keys:
        same = held.get(key.key_id)
        if same is not None and (same.signing_public, same.encryption_public) != (
            key.signing_public,
            key.encryption_public,
        ):
            raise EnvelopeRejected(
                RejectReason.KEY_CONFLICT,
                f"key {key.key_id!r} is known with other public keys",
            )
    return keys

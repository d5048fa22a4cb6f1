"""Reading back what this node sealed: the sender's own copy of an envelope (its outbox row).

crypto_box's key is shared by both ends (our X25519 secret with the peer's public key gives
what the peer computes with its secret and our public key), so the sender can decrypt its
own copy with the pairs the header names; no second copy sealed to ourselves is needed. The
signature is ours and is checked first, as the database is not trusted with content. Used by
the console to show sent messages; never for anything that decides delivery.
"""

from __future__ import annotations

import hashlib

from gateway.crypto.envelope import (
    EnvelopeRejected,
    OpenedEnvelope,
    RejectReason,
    parse_header,
    verify_and_decrypt,
)
from gateway.crypto.keys import Keyring


def reopen_sent(keyring: Keyring, data: bytes) -> OpenedEnvelope:
    """Open an envelope this node sealed for a peer (its outbox copy), for display.

    Raises EnvelopeRejected; the returned sender_key is our own public pair. No time check:
    a sent message stays readable after its expiry, as long as both pairs are configured.
    """
    wire, header = parse_header(data)
    if header.sender != keyring.node_id:
        raise EnvelopeRejected(
            RejectReason.UNKNOWN_SENDER, f"sent by {header.sender!r}, not by this node"
        )
    own_key = keyring.own_key(header.sender_key_id)
    if own_key is None:
        raise EnvelopeRejected(
            RejectReason.UNKNOWN_KEY, f"sender key {header.sender_key_id!r} is not ours"
        )
    peer_key = keyring.peer_key(header.recipient, header.recipient_key_id)
    if peer_key is None:
        raise EnvelopeRejected(
            RejectReason.UNKNOWN_KEY,
            f"recipient key {header.recipient_key_id!r} of {header.recipient!r} is not known",
        )
    payload = verify_and_decrypt(
        keyring,
        wire,
        own_key.signing_key.verify_key,
        "our own key",
        own_key=own_key,
        peer_key=peer_key,
    )
    return OpenedEnvelope(
        header=header,
        payload=payload,
        envelope_sha256=hashlib.sha256(data).digest(),
        sender_key=own_key.public(),
    )

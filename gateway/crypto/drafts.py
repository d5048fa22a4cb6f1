"""Drafts at rest: a composed message sealed to this node's own X25519 key until approved.

A victim handover composed in the console waits for a supervisor's approval (four eyes) in
the database, and the database never holds victim plaintext. The draft is encrypted with
crypto_box from this node's own key pair to itself: only a holder of the node's secret can
open it, and, unlike a SealedBox (which anyone with the public key can produce), only a
holder of that secret can have made it, so a row written by hand into the database does not
open. The key id is stored with the row, so a draft survives key rotation for as long as its
key stays configured.

The row's metadata (case, kind, recipients, composer) is authenticated with the content: it
is prefixed to the plaintext and compared on opening. A database writer who moves a sealed
draft to another row (another case, another recipient, another composer, to get round the
four-eyes check) makes it refuse to open instead of being sent where it was not meant to go.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import nacl.exceptions

from gateway.crypto.keys import Keyring

_CONTEXT_TAG = b"BLG-DRAFT-V1\x00"
_DIGEST_BYTES = 32


class DraftUnreadable(Exception):  # noqa: N818 - a verdict on stored data
    """A sealed draft does not open: its key is gone, or it was altered or moved."""


@dataclass(frozen=True)
class SealedDraft:
    key_id: str
    data: bytes


def _context_digest(context: str) -> bytes:
    return hashlib.sha256(_CONTEXT_TAG + context.encode()).digest()


def seal_draft(keyring: Keyring, plaintext: bytes, *, context: str, at: datetime) -> SealedDraft:
    """plaintext encrypted to this node itself, bound to context (the row's metadata)."""
    own = keyring.own_key_at(at)
    if own is None:
        raise ValueError("this node has no key pair valid now")
    box = keyring.box(own, own.public())
    sealed = box.encrypt(_context_digest(context) + plaintext)
    return SealedDraft(own.key_id, bytes(sealed))


def open_draft(keyring: Keyring, sealed: SealedDraft, *, context: str) -> bytes:
    """The plaintext of a sealed draft whose row still has the metadata it was sealed with."""
    own = keyring.own_key(sealed.key_id)
    if own is None:
        raise DraftUnreadable(f"key {sealed.key_id!r} is no longer configured")
    try:
        opened = keyring.box(own, own.public()).decrypt(sealed.data)
    except nacl.exceptions.CryptoError:
        raise DraftUnreadable("the sealed draft does not decrypt") from None
    if opened[:_DIGEST_BYTES] != _context_digest(context):
        raise DraftUnreadable("the sealed draft belongs to another draft row")
    return opened[_DIGEST_BYTES:]

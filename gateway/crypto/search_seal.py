"""The search index at rest: one random key per node, and entries sealed under it.

Design notes:
- The index key is 32 random bytes, made on first use and stored in the database sealed to
  this node's own X25519 key pair exactly as an attachment's content key is (crypto_box from
  the pair to itself, bound to a context; gateway.crypto.drafts). A dump of the database
  without the node's secret key opens nothing.
- Rotation: the sealed key names the own key pair it was sealed to. When a newer pair is
  configured, the index re-seals its key to it at start (rewrap), so the key stays openable
  after the old pair is removed, provided the node ran once while both were configured. If
  the pair is gone before that, the key no longer opens: the index makes a new key (a new
  generation), drops the entries of the old one and reads every message again; messages
  sealed to the removed pair do not open either, so nothing readable is lost.
- Entries: XChaCha20-Poly1305 (random 24-byte nonce, stored in front) with the entry's
  identity (direction, message row, ordinal, generation) as associated data: an entry
  copied onto another row, or another person's place, does not open. The plaintext is
  padded to a multiple of PAD_BYTES so that the length of a sealed entry says little about
  the length of the names in it.
"""

from __future__ import annotations

import os
from datetime import datetime

import nacl.bindings
import nacl.exceptions

from gateway.crypto.drafts import DraftUnreadable, SealedDraft, open_draft, seal_draft
from gateway.crypto.keys import Keyring

INDEX_KEY_BYTES = 32
PAD_BYTES = 64
_NONCE_BYTES = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_CONTEXT = "search-index-key"


class SearchEntryUnreadable(Exception):  # noqa: N818 - a verdict on stored data
    """A sealed search entry does not open: altered, moved, or under another key."""


def new_index_key() -> bytes:
    return os.urandom(INDEX_KEY_BYTES)


def seal_index_key(keyring: Keyring, key: bytes, *, generation: int, at: datetime) -> SealedDraft:
    """The index key sealed to this node's newest valid own key pair."""
    return seal_draft(keyring, key, context=f"{_CONTEXT}\x00{generation}", at=at)


def open_index_key(keyring: Keyring, sealed: SealedDraft, *, generation: int) -> bytes | None:
    """The index key, or None when it no longer opens (its own key pair was removed)."""
    try:
        key = open_draft(keyring, sealed, context=f"{_CONTEXT}\x00{generation}")
    except DraftUnreadable:
        return None
    return key if len(key) == INDEX_KEY_BYTES else None


def newest_own_key_id(keyring: Keyring, at: datetime) -> str | None:
    """The own key pair an index key should be sealed to now."""
    own = keyring.own_key_at(at)
    return None if own is None else own.key_id


def _associated(direction: str, message_row: int, ordinal: int, generation: int) -> bytes:
    return (
        f"blg-search-entry-v1\x00{direction}\x00{message_row}\x00{ordinal}\x00{generation}".encode()
    )


def seal_entry(
    key: bytes, plaintext: bytes, *, direction: str, message_row: int, ordinal: int, generation: int
) -> bytes:
    """plaintext padded, encrypted and bound to the entry's identity."""
    # Padding: a 0x80 marker then zeros up to the next multiple (ISO/IEC 7816-4).
    padded = plaintext + b"\x80"
    padded += b"\x00" * (-len(padded) % PAD_BYTES)
    nonce = os.urandom(_NONCE_BYTES)
    sealed = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded, _associated(direction, message_row, ordinal, generation), nonce, key
    )
    return nonce + sealed


def open_entry(
    key: bytes, data: bytes, *, direction: str, message_row: int, ordinal: int, generation: int
) -> bytes:
    """The plaintext of a sealed entry stored where it was sealed for."""
    try:
        padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            data[_NONCE_BYTES:],
            _associated(direction, message_row, ordinal, generation),
            data[:_NONCE_BYTES],
            key,
        )
    except nacl.exceptions.CryptoError:
        raise SearchEntryUnreadable("the sealed entry does not open here") from None
    end = padded.rstrip(b"\x00")
    if not end.endswith(b"\x80"):
        raise SearchEntryUnreadable("the sealed entry's padding is malformed")
    return end[:-1]

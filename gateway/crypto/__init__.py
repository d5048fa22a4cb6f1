"""Keys, sealed envelopes, receipts and encrypted attachments.

The only package that imports PyNaCl. Everything here is pure computation over bytes and
keys, with no I/O but the attachment streams it is handed, so it can be tested
exhaustively and reused by any transport. docs/PROTOCOL.md is the normative description.
"""

from __future__ import annotations

from gateway.crypto.attachment import AttachmentInvalid, decrypt_attachment, encrypt_attachment
from gateway.crypto.envelope import (
    EnvelopeHeader,
    EnvelopeLimits,
    EnvelopeRejected,
    OpenedEnvelope,
    RejectReason,
    SealedEnvelope,
    open_envelope,
    open_parsed,
    parse_header,
    reopen_stored,
    seal,
    sealed_length,
)
from gateway.crypto.keys import Keyring, KeyValidity, OwnKeyPair, PublicKeyPair
from gateway.crypto.own_copy import reopen_sent
from gateway.crypto.receipt import ReceiptFacts, ReceiptInvalid, sign_receipt, verify_receipt

__all__ = [
    "AttachmentInvalid",
    "EnvelopeHeader",
    "EnvelopeLimits",
    "EnvelopeRejected",
    "KeyValidity",
    "Keyring",
    "OpenedEnvelope",
    "OwnKeyPair",
    "PublicKeyPair",
    "ReceiptFacts",
    "ReceiptInvalid",
    "RejectReason",
    "SealedEnvelope",
    "decrypt_attachment",
    "encrypt_attachment",
    "open_envelope",
    "open_parsed",
    "parse_header",
    "reopen_sent",
    "reopen_stored",
    "seal",
    "sealed_length",
    "sign_receipt",
    "verify_receipt",
]

"""Attachments: photos and scanned records, encrypted as a stream.

An attachment can be 100 MiB, far more than an envelope should carry or memory should hold,
so it travels beside the envelope, encrypted with XChaCha20-Poly1305 secretstream under a key
used for that attachment only. The key, the SHA-256 of the encrypted stream and the plaintext
size ride inside the sealed payload (AttachmentKey), so the attachment is as confidential and
as authentic as the envelope that names it.

Stream layout (docs/PROTOCOL.md): 8-byte magic, 4-byte big-endian chunk size, 24-byte
secretstream header, then chunks. Every chunk but the last holds exactly chunk-size plaintext
bytes; the last holds 0..chunk-size bytes and carries the FINAL tag, so truncation and
appending are both detected. Each chunk is authenticated with the attachment id as associated
data, so a stream cannot be passed off under another id. Memory use is one chunk, whatever
the size.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Protocol

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils

from gateway.wire import envelope

MAGIC = b"BLGATT\x00\x01"
DEFAULT_CHUNK_BYTES = 64 * 1024
MAX_CHUNK_BYTES = 1 << 20
KEY_BYTES = sodium.crypto_secretstream_xchacha20poly1305_KEYBYTES
HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
CHUNK_OVERHEAD = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_PREAMBLE = struct.Struct(">8sI")


class ByteSource(Protocol):
    """Anything read like a binary file: files, sockets wrapped as files, test generators."""

    def read(self, size: int = -1, /) -> bytes: ...


class ByteSink(Protocol):
    """Anything written like a binary file."""

    def write(self, data: bytes, /) -> object: ...


class AttachmentInvalid(Exception):  # noqa: N818 - a verdict on received data
    """An encrypted attachment is damaged, truncated, or not the one its key names."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _read_exactly(src: ByteSource, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        part = src.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def encrypt_attachment(
    src: ByteSource,
    dst: ByteSink,
    *,
    attachment_id: str,
    media_type: str,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    key: bytes | None = None,
) -> envelope.AttachmentKey:
    """Stream src into dst encrypted; returns the AttachmentKey to seal into the payload.

    key exists for reproducible test vectors; normally a fresh key is drawn.
    """
    if not 1 <= chunk_bytes <= MAX_CHUNK_BYTES:
        raise ValueError(f"chunk_bytes must be 1..{MAX_CHUNK_BYTES}")
    key = nacl.utils.random(KEY_BYTES) if key is None else key
    associated = attachment_id.encode()
    digest = hashlib.sha256()

    def emit(data: bytes) -> None:
        digest.update(data)
        dst.write(data)

    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    emit(_PREAMBLE.pack(MAGIC, chunk_bytes))
    emit(sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key))
    size = 0
    # Read one chunk ahead: the last chunk must carry FINAL, and only the next read tells.
    chunk = _read_exactly(src, chunk_bytes)
    while True:
        following = _read_exactly(src, chunk_bytes) if len(chunk) == chunk_bytes else b""
        tag = _TAG_FINAL if not following else _TAG_MESSAGE
        emit(sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, associated, tag))
        size += len(chunk)
        if tag == _TAG_FINAL:
            break
        chunk = following
    return envelope.AttachmentKey(
        attachment_id=attachment_id,
        key=key,
        ciphertext_sha256=digest.digest(),
        plaintext_size=size,
        media_type=media_type,
    )


def decrypt_attachment(src: ByteSource, dst: ByteSink, key: envelope.AttachmentKey) -> int:
    """Stream the encrypted src into dst as plaintext; returns the plaintext size.

    Raises AttachmentInvalid. Plaintext is written as it is authenticated chunk by chunk, but
    the whole-stream checks (hash, size, final tag) come only at the end: write into a
    temporary file and keep it only when this returns.
    """
    digest = hashlib.sha256()

    def take(size: int) -> bytes:
        data = _read_exactly(src, size)
        digest.update(data)
        return data

    preamble = take(_PREAMBLE.size)
    if len(preamble) != _PREAMBLE.size:
        raise AttachmentInvalid("attachment_truncated", "stream shorter than its preamble")
    magic, chunk_bytes = _PREAMBLE.unpack(preamble)
    if magic != MAGIC or not 1 <= chunk_bytes <= MAX_CHUNK_BYTES:
        raise AttachmentInvalid("attachment_malformed", "not a v1 attachment stream")
    header = take(HEADER_BYTES)
    if len(header) != HEADER_BYTES or len(key.key) != KEY_BYTES:
        raise AttachmentInvalid("attachment_malformed", "stream header or key has a bad size")
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, key.key)
    associated = key.attachment_id.encode()
    size = 0
    while True:
        chunk = take(chunk_bytes + CHUNK_OVERHEAD)
        if len(chunk) < CHUNK_OVERHEAD:
            raise AttachmentInvalid("attachment_truncated", "stream ended before its final chunk")
        try:
            plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, chunk, associated)
        except nacl.exceptions.CryptoError:
            raise AttachmentInvalid(
                "attachment_corrupt", f"chunk at plaintext offset {size} does not authenticate"
            ) from None
        if tag not in (_TAG_MESSAGE, _TAG_FINAL):
            raise AttachmentInvalid("attachment_malformed", "chunk carries a tag v1 never uses")
        dst.write(plain)
        size += len(plain)
        if tag == _TAG_FINAL:
            break
        if len(plain) != chunk_bytes:
            raise AttachmentInvalid("attachment_malformed", "short chunk before the final one")
    if src.read(1):
        raise AttachmentInvalid("attachment_malformed", "data after the final chunk")
    if digest.digest() != key.ciphertext_sha256:
        raise AttachmentInvalid("attachment_mismatch", "stream hash differs from its key")
    if size != key.plaintext_size:
        raise AttachmentInvalid("attachment_mismatch", "plaintext size differs from its key")
    return size

"""Attachment streams encrypted and decrypted piece by piece, for asynchronous pipelines.

encrypt_attachment / decrypt_attachment (gateway.crypto.attachment) pull from a file-like
source. The gateway's streams come from an HTTP body or from the database one 1 MiB row at a
time, on the event loop, so these two classes take the data pushed to them instead: the
caller hands each piece to update() (in a worker thread: the crypto releases the GIL, the
loop does not wait for it) and gets back the output it allows, and finish() ends the stream.
The format and the checks are those of docs/PROTOCOL.md 7.1 and 7.3, in the same order and
with the same reasons, and memory stays one chunk plus the piece handed in.
"""

from __future__ import annotations

import hashlib

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils

from gateway.crypto.attachment import (
    _PREAMBLE,
    _TAG_FINAL,
    _TAG_MESSAGE,
    CHUNK_OVERHEAD,
    DEFAULT_CHUNK_BYTES,
    HEADER_BYTES,
    KEY_BYTES,
    MAGIC,
    MAX_CHUNK_BYTES,
    AttachmentInvalid,
)
from gateway.wire import envelope


class AttachmentEncryptor:
    """Plaintext in (update), stream bytes out; finish() gives the AttachmentKey.

    One full chunk of plaintext is held back until more arrives or finish() is called: the
    last chunk must carry the FINAL tag, and only what follows tells which one is last."""

    def __init__(
        self,
        *,
        attachment_id: str,
        media_type: str,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        key: bytes | None = None,
    ) -> None:
        if not 1 <= chunk_bytes <= MAX_CHUNK_BYTES:
            raise ValueError(f"chunk_bytes must be 1..{MAX_CHUNK_BYTES}")
        self._key = nacl.utils.random(KEY_BYTES) if key is None else key
        self._id = attachment_id
        self._ad = attachment_id.encode()
        self._media_type = media_type
        self._chunk = chunk_bytes
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        self._digest = hashlib.sha256()
        self._pending = bytearray()
        self._size = 0
        self._started = False
        self._finished = False

    def _start(self) -> bytes:
        self._started = True
        return _PREAMBLE.pack(MAGIC, self._chunk) + (
            sodium.crypto_secretstream_xchacha20poly1305_init_push(self._state, self._key)
        )

    def _push(self, plain: bytes, tag: int) -> bytes:
        self._size += len(plain)
        return sodium.crypto_secretstream_xchacha20poly1305_push(self._state, plain, self._ad, tag)

    def update(self, data: bytes) -> bytes:
        """Stream bytes for the plaintext handed in so far (possibly none yet)."""
        if self._finished:
            raise ValueError("the stream is finished")
        out = [] if self._started else [self._start()]
        self._pending += data
        # Keep at least one full chunk (or the short rest) back for finish().
        while len(self._pending) > self._chunk:
            out.append(self._push(bytes(self._pending[: self._chunk]), _TAG_MESSAGE))
            del self._pending[: self._chunk]
        produced = b"".join(out)
        self._digest.update(produced)
        return produced

    def finish(self) -> tuple[bytes, envelope.AttachmentKey]:
        """The stream's last bytes, and the key that opens it."""
        if self._finished:
            raise ValueError("the stream is finished")
        out = b"" if self._started else self._start()
        out += self._push(bytes(self._pending), _TAG_FINAL)
        self._pending.clear()
        self._finished = True
        self._digest.update(out)
        return out, envelope.AttachmentKey(
            attachment_id=self._id,
            key=self._key,
            ciphertext_sha256=self._digest.digest(),
            plaintext_size=self._size,
            media_type=self._media_type,
        )


class AttachmentDecryptor:
    """Stream bytes in (update), authenticated plaintext out; finish() runs the whole-stream
    checks. Raises AttachmentInvalid with the reason decrypt_attachment would give.

    As with decrypt_attachment, plaintext is released chunk by chunk before the whole-stream
    checks: keep it only once finish() returns (or discard it, to verify only)."""

    def __init__(self, key: envelope.AttachmentKey) -> None:
        self._key = key
        self._ad = key.attachment_id.encode()
        self._digest = hashlib.sha256()
        self._buffer = bytearray()
        self._state: sodium.crypto_secretstream_xchacha20poly1305_state | None = None
        self._chunk = 0
        self._size = 0
        self._final = False

    def _open(self) -> None:
        magic, chunk_bytes = _PREAMBLE.unpack(bytes(self._buffer[: _PREAMBLE.size]))
        if magic != MAGIC or not 1 <= chunk_bytes <= MAX_CHUNK_BYTES:
            raise AttachmentInvalid("attachment_malformed", "not a v1 attachment stream")
        if len(self._buffer) < _PREAMBLE.size + HEADER_BYTES:
            return
        if len(self._key.key) != KEY_BYTES:
            raise AttachmentInvalid("attachment_malformed", "stream header or key has a bad size")
        header = bytes(self._buffer[_PREAMBLE.size : _PREAMBLE.size + HEADER_BYTES])
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, header, self._key.key)
        self._state, self._chunk = state, chunk_bytes
        del self._buffer[: _PREAMBLE.size + HEADER_BYTES]

    def _pull(self, chunk: bytes) -> bytes:
        if len(chunk) < CHUNK_OVERHEAD:
            raise AttachmentInvalid("attachment_truncated", "stream ended before its final chunk")
        assert self._state is not None
        try:
            plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self._state, chunk, self._ad
            )
        except nacl.exceptions.CryptoError:
            raise AttachmentInvalid(
                "attachment_corrupt",
                f"chunk at plaintext offset {self._size} does not authenticate",
            ) from None
        if tag not in (_TAG_MESSAGE, _TAG_FINAL):
            raise AttachmentInvalid("attachment_malformed", "chunk carries a tag v1 never uses")
        self._size += len(plain)
        if tag == _TAG_FINAL:
            self._final = True
        elif len(plain) != self._chunk:
            raise AttachmentInvalid("attachment_malformed", "short chunk before the final one")
        return bytes(plain)

    def update(self, data: bytes) -> bytes:
        """Plaintext of the chunks that data completes (possibly none)."""
        self._digest.update(data)
        if self._final:
            if data:
                raise AttachmentInvalid("attachment_malformed", "data after the final chunk")
            return b""
        self._buffer += data
        if self._state is None:
            if len(self._buffer) < _PREAMBLE.size:
                return b""
            self._open()
            if self._state is None:
                return b""
        out: list[bytes] = []
        step = self._chunk + CHUNK_OVERHEAD
        # A full-length chunk may be the FINAL one: pulled only when whole, like the reader of
        # decrypt_attachment, which reads min(c + 17, remaining) bytes at a time.
        while len(self._buffer) >= step and not self._final:
            out.append(self._pull(bytes(self._buffer[:step])))
            del self._buffer[:step]
        if self._final and self._buffer:
            raise AttachmentInvalid("attachment_malformed", "data after the final chunk")
        return b"".join(out)

    def finish(self) -> tuple[bytes, int]:
        """The last chunk's plaintext and the plaintext size, once every check passed."""
        last = b""
        if self._state is None:
            if len(self._buffer) < _PREAMBLE.size:
                raise AttachmentInvalid("attachment_truncated", "stream shorter than its preamble")
            self._open()
            if self._state is None:
                raise AttachmentInvalid("attachment_malformed", "stream header has a bad size")
        if not self._final:
            last = self._pull(bytes(self._buffer))
            self._buffer.clear()
            if not self._final:
                raise AttachmentInvalid(
                    "attachment_truncated", "stream ended before its final chunk"
                )
        if self._digest.digest() != self._key.ciphertext_sha256:
            raise AttachmentInvalid("attachment_mismatch", "stream hash differs from its key")
        if self._size != self._key.plaintext_size:
            raise AttachmentInvalid("attachment_mismatch", "plaintext size differs from its key")
        return last, self._size

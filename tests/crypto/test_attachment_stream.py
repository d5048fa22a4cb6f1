"""The piecewise encryptor and decryptor (gateway.crypto.attachment_stream) against the
file-based functions of PROTOCOL.md 7.1 and 7.3: same streams, same verdicts."""

from __future__ import annotations

import io
import os

import pytest

from gateway.crypto.attachment import AttachmentInvalid, decrypt_attachment, encrypt_attachment
from gateway.crypto.attachment_stream import AttachmentDecryptor, AttachmentEncryptor
from gateway.wire import envelope

C = 1000
SIZES = [0, 1, C - 1, C, C + 1, 3 * C, 3 * C + 17]
PIECES = [1, 7, C, C + 17, 10_000_000]


def _split(data: bytes, piece: int) -> list[bytes]:
    return [data[i : i + piece] for i in range(0, len(data), piece)] or [b""]


def _encrypt_pieces(plain: bytes, piece: int) -> tuple[bytes, envelope.AttachmentKey]:
    encryptor = AttachmentEncryptor(attachment_id="a-1", media_type="image/png", chunk_bytes=C)
    out = [encryptor.update(part) for part in _split(plain, piece)]
    last, key = encryptor.finish()
    return b"".join(out) + last, key


def _decrypt_pieces(stream: bytes, key: envelope.AttachmentKey, piece: int) -> bytes:
    decryptor = AttachmentDecryptor(key)
    out = [decryptor.update(part) for part in _split(stream, piece)]
    last, size = decryptor.finish()
    plain = b"".join(out) + last
    assert size == len(plain)
    return plain


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("piece", PIECES)
def test_round_trips_both_ways(size: int, piece: int) -> None:
    plain = os.urandom(size)
    stream, key = _encrypt_pieces(plain, piece)
    assert (key.plaintext_size, len(key.key)) == (size, 32)
    sink = io.BytesIO()
    assert decrypt_attachment(io.BytesIO(stream), sink, key) == size
    assert sink.getvalue() == plain
    reference = io.BytesIO()
    key2 = encrypt_attachment(
        io.BytesIO(plain), reference, attachment_id="a-1", media_type="x/y", chunk_bytes=C
    )
    assert len(reference.getvalue()) == len(stream)
    assert _decrypt_pieces(reference.getvalue(), key2, piece) == plain


def _sync_verdict(stream: bytes, key: envelope.AttachmentKey) -> str:
    try:
        decrypt_attachment(io.BytesIO(stream), io.BytesIO(), key)
    except AttachmentInvalid as invalid:
        return invalid.reason
    return "ok"


def _piece_verdict(stream: bytes, key: envelope.AttachmentKey, piece: int) -> str:
    try:
        _decrypt_pieces(stream, key, piece)
    except AttachmentInvalid as invalid:
        return invalid.reason
    return "ok"


PLAIN = os.urandom(3 * C + 5)
STREAM, KEY = _encrypt_pieces(PLAIN, 4096)
FULL, FULL_KEY = _encrypt_pieces(PLAIN[: 2 * C], 4096)
DAMAGED = {
    "intact": (STREAM, KEY),
    "empty": (b"", KEY),
    "preamble_cut": (STREAM[:10], KEY),
    "header_cut": (STREAM[:20], KEY),
    "bad_magic": (b"X" + STREAM[1:], KEY),
    "chunk_cut": (STREAM[: 36 + C + 17 + 5], KEY),
    "final_dropped": (STREAM[: 36 + 3 * (C + 17)], KEY),
    "byte_flipped": (STREAM[:100] + bytes([STREAM[100] ^ 1]) + STREAM[101:], KEY),
    "appended": (STREAM + b"x", KEY),
    "appended_after_full_final": (FULL + b"xyz", FULL_KEY),
    "other_id": (
        STREAM,
        envelope.AttachmentKey(
            attachment_id="a-2",
            key=KEY.key,
            ciphertext_sha256=KEY.ciphertext_sha256,
            plaintext_size=KEY.plaintext_size,
        ),
    ),
    "other_hash": (
        STREAM,
        envelope.AttachmentKey(
            attachment_id="a-1",
            key=KEY.key,
            ciphertext_sha256=bytes(32),
            plaintext_size=KEY.plaintext_size,
        ),
    ),
    "other_size": (
        STREAM,
        envelope.AttachmentKey(
            attachment_id="a-1",
            key=KEY.key,
            ciphertext_sha256=KEY.ciphertext_sha256,
            plaintext_size=1,
        ),
    ),
}


@pytest.mark.parametrize("case", DAMAGED.values(), ids=DAMAGED.keys())
@pytest.mark.parametrize("piece", [1, 13, C + 17, 1 << 20])
def test_damage_gets_the_same_verdict(
    case: tuple[bytes, envelope.AttachmentKey], piece: int
) -> None:
    stream, key = case
    assert _piece_verdict(stream, key, piece) == _sync_verdict(stream, key)

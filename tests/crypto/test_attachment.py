from __future__ import annotations

import hashlib
import io
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.attachment import HashingSink, PatternSource
from gateway.crypto import AttachmentInvalid, decrypt_attachment, encrypt_attachment
from gateway.crypto.attachment import CHUNK_OVERHEAD
from gateway.wire import envelope


def _encrypt(
    plain: bytes, chunk: int = 64, attachment_id: str = "att-c0ffee"
) -> tuple[bytes, envelope.AttachmentKey]:
    out = io.BytesIO()
    key = encrypt_attachment(
        io.BytesIO(plain),
        out,
        attachment_id=attachment_id,
        media_type="image/jpeg",
        chunk_bytes=chunk,
    )
    return out.getvalue(), key


@settings(max_examples=80, deadline=None)
@given(plain=st.binary(max_size=700), chunk=st.integers(1, 200))
def test_attachments_round_trip_at_any_size_and_chunking(plain: bytes, chunk: int) -> None:
    stream, key = _encrypt(plain, chunk, "att-1")
    assert key.plaintext_size == len(plain)
    assert key.ciphertext_sha256 == hashlib.sha256(stream).digest()
    back = io.BytesIO()
    assert decrypt_attachment(io.BytesIO(stream), back, key) == len(plain)
    assert back.getvalue() == plain


def _decrypt_fails(stream: bytes, key: envelope.AttachmentKey) -> str:
    with pytest.raises(AttachmentInvalid) as caught:
        decrypt_attachment(io.BytesIO(stream), io.BytesIO(), key)
    return caught.value.reason


def test_truncation_at_a_chunk_boundary_is_detected() -> None:
    stream, key = _encrypt(b"a" * 640)
    cut = len(stream) - (64 + CHUNK_OVERHEAD)
    assert _decrypt_fails(stream[:cut], key) == "attachment_truncated"


def test_a_flipped_ciphertext_byte_is_detected() -> None:
    stream, key = _encrypt(b"b" * 300)
    damaged = bytearray(stream)
    damaged[-5] ^= 1
    assert _decrypt_fails(bytes(damaged), key) == "attachment_corrupt"


def test_appended_data_is_detected() -> None:
    stream, key = _encrypt(b"c" * 100)
    # Chunks are read at full size, so appended bytes join the final chunk and break its tag.
    assert _decrypt_fails(stream + b"x", key) == "attachment_corrupt"


def test_a_stream_cannot_pass_under_another_attachment_id() -> None:
    stream, key = _encrypt(b"d" * 100)
    renamed = envelope.AttachmentKey()
    renamed.CopyFrom(key)
    renamed.attachment_id = "att-other"
    assert _decrypt_fails(stream, renamed) == "attachment_corrupt"


def test_a_100_mib_attachment_round_trips_in_bounded_memory(tmp_path: Path) -> None:
    size = 100 * 1024 * 1024
    expected = HashingSink()
    source = PatternSource(size)
    while chunk := source.read(1 << 20):
        expected.write(chunk)
    encrypted = tmp_path / "att.bin"
    tracemalloc.start()
    try:
        with encrypted.open("wb") as out:
            key = encrypt_attachment(
                PatternSource(size), out, attachment_id="att-big", media_type="image/tiff"
            )
        sink = HashingSink()
        with encrypted.open("rb") as src:
            decrypt_attachment(src, sink, key)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.size == size
    assert sink.digest.digest() == expected.digest.digest()
    # Python-level allocations stay at a few chunks, not the attachment's size.
    assert peak < 4 * 1024 * 1024

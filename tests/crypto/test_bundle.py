"""Offline bundles (gateway/crypto/bundle.py): round trip, and each refusal with its code."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from gateway.crypto.bundle import (
    MAGIC,
    PREAMBLE,
    BundleKind,
    BundleLimits,
    BundleReason,
    BundleRefused,
    bundle_signing_input,
    open_bundle,
    read_bundle_id,
    seal_bundle,
)
from gateway.wire import bundle, uuid7
from tests.crypto.support import T0, Pair, make_pair

CREATED = T0 + timedelta(days=2)
ITEMS = (b"first envelope", b"", b"\x00" * 300)


def _seal(pair: Pair, items: tuple[bytes, ...] = ITEMS, *, sender: str = "police") -> bytes:
    keyring = pair.police if sender == "police" else pair.outsider
    return seal_bundle(
        keyring,
        recipient="kh-ratanakiri-police",
        kind=BundleKind.ENVELOPES,
        items=items,
        bundle_id=uuid7(),
        created_at=CREATED,
    )


DEFAULT_LIMITS = BundleLimits()


def _code(pair: Pair, data: bytes, limits: BundleLimits = DEFAULT_LIMITS) -> BundleReason:
    with pytest.raises(BundleRefused) as refused:
        open_bundle(pair.ratanakiri, data, limits=limits)
    return refused.value.code


def test_round_trip() -> None:
    pair = make_pair()
    data = _seal(pair)
    assert data.startswith(MAGIC)
    opened = open_bundle(pair.ratanakiri, data, limits=BundleLimits())
    assert opened.items == ITEMS
    assert opened.kind is BundleKind.ENVELOPES
    assert (opened.sender, opened.recipient) == ("vn-gialai-police", "kh-ratanakiri-police")
    assert opened.created_at == CREATED
    assert opened.bundle_id == read_bundle_id(data)


def test_outside_shows_no_item_content() -> None:
    pair = make_pair()
    data = _seal(pair, (b"SECRET-NAME-NGUYEN",))
    assert b"SECRET-NAME-NGUYEN" not in data


def _sealed_part(data: bytes) -> bundle.SealedBundle:
    sealed = bundle.SealedBundle()
    sealed.ParseFromString(data[PREAMBLE.size :])
    return sealed


def _rewrap(sealed: bundle.SealedBundle) -> bytes:
    body = sealed.SerializeToString()
    return PREAMBLE.pack(MAGIC, len(body)) + body


def _flip(offset_from_end: int) -> Callable[[bytes], bytes]:
    def tamper(data: bytes) -> bytes:
        at = len(data) - offset_from_end
        return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]

    return tamper


def _header_tamper(data: bytes) -> bytes:
    sealed = _sealed_part(data)
    header = bundle.BundleHeader()
    header.ParseFromString(sealed.header)
    header.kind = bundle.BUNDLE_KIND_RECEIPTS
    sealed.header = header.SerializeToString()
    return _rewrap(sealed)


def _ciphertext_tamper_resigned(pair: Pair) -> Callable[[bytes], bytes]:
    """An attacker with the sender's signing key but not the AEAD key: decryption fails."""

    def tamper(data: bytes) -> bytes:
        sealed = _sealed_part(data)
        ciphertext = bytearray(sealed.ciphertext)
        ciphertext[-1] ^= 1
        sealed.ciphertext = bytes(ciphertext)
        signed = bundle_signing_input(sealed.header, sealed.key_box, sealed.ciphertext)
        sealed.signature = pair.police_key.signing_key.sign(signed).signature
        return _rewrap(sealed)

    return tamper


TAMPERED: list[tuple[str, Callable[[bytes], bytes], BundleReason]] = [
    ("signature byte", _flip(1), BundleReason.SIGNATURE_INVALID),
    ("ciphertext byte", _flip(100), BundleReason.SIGNATURE_INVALID),
    ("header kind", _header_tamper, BundleReason.SIGNATURE_INVALID),
    ("magic", lambda d: b"BLGBNDL\x02" + d[8:], BundleReason.MALFORMED),
    ("not a bundle", lambda d: b"%PDF-1.7\n" + d, BundleReason.MALFORMED),
    ("trailing byte", lambda d: d + b"\x00", BundleReason.MALFORMED),
    ("length too short", lambda d: PREAMBLE.pack(MAGIC, 3) + d[16:], BundleReason.MALFORMED),
    ("empty file", lambda d: b"", BundleReason.TRUNCATED),
    ("inside magic", lambda d: d[:5], BundleReason.TRUNCATED),
    ("inside length", lambda d: d[:12], BundleReason.TRUNCATED),
    ("after preamble", lambda d: d[:16], BundleReason.TRUNCATED),
    ("inside header", lambda d: d[:40], BundleReason.TRUNCATED),
    ("half", lambda d: d[: len(d) // 2], BundleReason.TRUNCATED),
    ("last byte", lambda d: d[:-1], BundleReason.TRUNCATED),
]


@pytest.mark.parametrize(
    ("tamper", "code"), [(t, c) for _, t, c in TAMPERED], ids=[n for n, _, _ in TAMPERED]
)
def test_tampered_and_truncated(tamper: Callable[[bytes], bytes], code: BundleReason) -> None:
    pair = make_pair()
    assert _code(pair, tamper(_seal(pair))) is code


def test_resigned_ciphertext_fails_decryption() -> None:
    pair = make_pair()
    data = _ciphertext_tamper_resigned(pair)(_seal(pair))
    assert _code(pair, data) is BundleReason.MALFORMED


def test_wrong_recipient() -> None:
    pair = make_pair()
    data = _seal(pair)
    with pytest.raises(BundleRefused) as refused:
        open_bundle(pair.police, data, limits=BundleLimits())
    assert refused.value.code is BundleReason.MISADDRESSED


def test_unknown_sender() -> None:
    pair = make_pair()
    assert _code(pair, _seal(pair, sender="outsider")) is BundleReason.SENDER_UNKNOWN


def test_oversized_refused_before_parsing() -> None:
    pair = make_pair()
    data = _seal(pair)
    limits = BundleLimits(max_bundle_bytes=len(data) - 1)
    assert _code(pair, data, limits) is BundleReason.TOO_LARGE
    # Size comes first: even garbage of that size is too large, not malformed.
    assert _code(pair, b"x" * len(data), limits) is BundleReason.TOO_LARGE


def test_too_many_items() -> None:
    pair = make_pair()
    data = _seal(pair, tuple(b"e" for _ in range(11)))
    assert _code(pair, data, BundleLimits(max_bundle_items=10)) is BundleReason.TOO_LARGE
    assert (
        len(open_bundle(pair.ratanakiri, data, limits=BundleLimits(max_bundle_items=11)).items)
        == 11
    )


def test_seal_refuses_a_non_uuid7_id() -> None:
    pair = make_pair()
    with pytest.raises(ValueError, match="UUIDv7"):
        seal_bundle(
            pair.police,
            recipient="kh-ratanakiri-police",
            kind=BundleKind.RECEIPTS,
            items=(),
            bundle_id=uuid.uuid4(),
            created_at=CREATED,
        )


def test_streams_travel_inside_the_ciphertext_and_count_toward_the_item_limit() -> None:
    pair = make_pair()
    streams = [("att-1", b"STREAM-ONE" * 10), ("att-2", b"")]
    data = seal_bundle(
        pair.police,
        recipient="kh-ratanakiri-police",
        kind=BundleKind.ENVELOPES,
        items=[b"e"],
        bundle_id=uuid7(),
        created_at=CREATED,
        streams=streams,
    )
    assert b"STREAM-ONE" not in data
    opened = open_bundle(pair.ratanakiri, data, limits=BundleLimits())
    assert list(opened.streams) == streams
    assert _code(pair, data, BundleLimits(max_bundle_items=1)) is BundleReason.TOO_LARGE

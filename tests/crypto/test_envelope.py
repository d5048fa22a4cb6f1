from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.crypto import (
    EnvelopeLimits,
    EnvelopeRejected,
    Keyring,
    KeyValidity,
    OwnKeyPair,
    PublicKeyPair,
    RejectReason,
    open_envelope,
    seal,
)
from gateway.crypto.envelope import from_unix_ms, is_representable_ms, parse_header, to_unix_ms
from gateway.wire import Kind, canonical, envelope, uuid7
from tests.crypto.support import T0, make_pair, seal_simple

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=1, minutes=1)
LIMITS = EnvelopeLimits()
PAIR = make_pair()

Body = canonical.WantedPersonNotice | canonical.VictimHandover | canonical.HotlineAlert
texts = st.text(max_size=40)
persons = st.builds(
    canonical.Person,
    name=texts,
    name_latin=texts,
    aliases=st.lists(texts, max_size=3),
    sex=st.sampled_from(canonical.Sex.values()),
    nationality=st.sampled_from(["VN", "KH", "LA", ""]),
    birth_date=st.builds(
        canonical.Date,
        year=st.integers(0, 9999),
        month=st.integers(0, 12),
        day=st.integers(0, 31),
    ),
)
bodies = st.one_of(
    st.builds(
        lambda p, caveat: (
            "wanted_person_notice",
            canonical.WantedPersonNotice(subject=p, caveat=caveat),
        ),
        persons,
        texts,
    ),
    st.builds(
        lambda ps, gate: (
            "victim_handover",
            canonical.VictimHandover(
                victims=[canonical.Victim(person=p, minor=True) for p in ps], border_gate=gate
            ),
        ),
        st.lists(persons, max_size=3),
        texts,
    ),
    st.builds(
        lambda ps, summary: (
            "hotline_alert",
            canonical.HotlineAlert(
                persons=[
                    canonical.InvolvedPerson(role=canonical.ROLE_VICTIM, person=p) for p in ps
                ],
                summary=summary,
            ),
        ),
        st.lists(persons, max_size=3),
        texts,
    ),
)


@settings(max_examples=60, deadline=None)
@given(body=bodies, reference=texts, lifetime_s=st.integers(1, 30 * 86400))
def test_seal_open_round_trips_every_kind(
    body: tuple[
        str, canonical.WantedPersonNotice | canonical.VictimHandover | canonical.HotlineAlert
    ],
    reference: str,
    lifetime_s: int,
) -> None:
    field, content = body
    message = canonical.Message(sender_reference=reference, action=canonical.ACTION_ISSUE)
    getattr(message, field).CopyFrom(content)
    case_id, message_id = uuid.uuid4(), uuid7()
    created = T0 + timedelta(days=2)
    sealed = seal(
        PAIR.police,
        recipient="kh-ratanakiri-police",
        kind=Kind(field),
        case_id=case_id,
        message_id=message_id,
        payload=envelope.SealedPayload(message=message.SerializeToString()),
        created_at=created,
        expires_at=created + timedelta(seconds=lifetime_s),
    )
    opened = open_envelope(PAIR.ratanakiri, sealed.data, now=created, limits=LIMITS)
    assert opened.header == sealed.header
    assert opened.header.kind is Kind(field)
    assert opened.header.case_id == case_id
    assert opened.header.message_id == message_id
    assert opened.envelope_sha256 == sealed.sha256
    assert canonical.Message.FromString(opened.payload.message) == message


def test_each_seal_draws_a_fresh_nonce() -> None:
    one = seal_simple(PAIR.police)
    two = seal_simple(PAIR.police)
    nonce = slice(0, 24)
    one_ct = envelope.Envelope.FromString(one.data).ciphertext
    two_ct = envelope.Envelope.FromString(two.data).ciphertext
    assert one_ct[nonce] != two_ct[nonce]


def _expected_for_mutated(data: bytes) -> RejectReason:
    """Derive, independently of open_envelope, the first check a mutated envelope fails."""
    try:
        wire = envelope.Envelope.FromString(data)
        header = envelope.EnvelopeHeader.FromString(wire.header)
    except Exception:
        return RejectReason.HEADER_MALFORMED
    wire.DiscardUnknownFields()
    if wire.SerializeToString() != data:
        return RejectReason.HEADER_MALFORMED
    original = envelope.EnvelopeHeader.FromString(envelope.Envelope.FromString(SEALED.data).header)
    if not wire.header or _header_invalid(header):
        return RejectReason.HEADER_MALFORMED
    if header.recipient != original.recipient:
        return RejectReason.WRONG_RECIPIENT
    if header.sender != original.sender:
        return RejectReason.UNKNOWN_SENDER
    if (header.sender_key_id, header.recipient_key_id) != (
        original.sender_key_id,
        original.recipient_key_id,
    ):
        return RejectReason.UNKNOWN_KEY
    created_ms = (T0 - EPOCH) // timedelta(milliseconds=1)
    if not created_ms <= header.created_at_ms < created_ms + 365 * 86_400_000:
        return RejectReason.KEY_NOT_VALID
    return RejectReason.BAD_SIGNATURE


def _header_invalid(header: envelope.EnvelopeHeader) -> bool:
    try:
        message_id = uuid.UUID(bytes=header.message_id)
    except ValueError:
        return True
    return (
        header.version != 1
        or not all((header.sender, header.recipient, header.sender_key_id))
        or not header.recipient_key_id
        or message_id.version != 7
        or message_id.variant != uuid.RFC_4122
        or len(header.case_id) != 16
        or header.kind not in (1, 2, 3)
        or header.created_at_ms <= 0
        or header.expires_at_ms <= header.created_at_ms
    )


SEALED = seal_simple(PAIR.police)


@pytest.mark.parametrize("flip", [0x01, 0x80, 0xFF])
def test_flipping_any_byte_is_rejected_with_the_right_code(flip: int) -> None:
    for index in range(len(SEALED.data)):
        mutated = bytearray(SEALED.data)
        mutated[index] ^= flip
        with pytest.raises(EnvelopeRejected) as caught:
            open_envelope(PAIR.ratanakiri, bytes(mutated), now=NOW, limits=LIMITS)
        expected = _expected_for_mutated(bytes(mutated))
        assert caught.value.reason is expected, f"byte {index} ^ {flip:#x}: {caught.value}"


def test_a_message_for_another_recipient_is_rejected() -> None:
    sealed = seal_simple(PAIR.ratanakiri, recipient="vn-gialai-police")
    with pytest.raises(EnvelopeRejected) as caught:
        open_envelope(PAIR.ratanakiri, sealed.data, now=NOW, limits=LIMITS)
    assert caught.value.reason is RejectReason.WRONG_RECIPIENT


def test_an_unknown_sender_is_rejected() -> None:
    sealed = seal_simple(PAIR.outsider)
    with pytest.raises(EnvelopeRejected) as caught:
        open_envelope(PAIR.ratanakiri, sealed.data, now=NOW, limits=LIMITS)
    assert caught.value.reason is RejectReason.UNKNOWN_SENDER


def test_a_key_unknown_to_the_receiver_is_rejected() -> None:
    rogue_key = OwnKeyPair.generate("k9", PAIR.police_key.validity)
    rogue = Keyring(
        "vn-gialai-police", [rogue_key], {"kh-ratanakiri-police": [PAIR.ratanakiri_key.public()]}
    )
    with pytest.raises(EnvelopeRejected) as caught:
        open_envelope(PAIR.ratanakiri, seal_simple(rogue).data, now=NOW, limits=LIMITS)
    assert caught.value.reason is RejectReason.UNKNOWN_KEY


def test_an_impostor_using_a_known_key_id_fails_the_signature() -> None:
    impostor_key = OwnKeyPair.generate("k1", PAIR.police_key.validity)
    impostor = Keyring(
        "vn-gialai-police", [impostor_key], {"kh-ratanakiri-police": [PAIR.ratanakiri_key.public()]}
    )
    with pytest.raises(EnvelopeRejected) as caught:
        open_envelope(PAIR.ratanakiri, seal_simple(impostor).data, now=NOW, limits=LIMITS)
    assert caught.value.reason is RejectReason.BAD_SIGNATURE


def test_a_key_expired_at_created_is_rejected() -> None:
    # The sender still holds its expired key and uses it; the receiver must refuse.
    expired = KeyValidity(T0 - timedelta(days=30), T0)
    old = OwnKeyPair.generate("k0", expired)
    receiver = Keyring(
        "kh-ratanakiri-police", [PAIR.ratanakiri_key], {"vn-gialai-police": [old.public()]}
    )
    sender_view = Keyring(
        "vn-gialai-police",
        [OwnKeyPair("k0", old.signing_key, old.encryption_key, PAIR.police_key.validity)],
        {"kh-ratanakiri-police": [PAIR.ratanakiri_key.public()]},
    )
    with pytest.raises(EnvelopeRejected) as caught:
        open_envelope(receiver, seal_simple(sender_view).data, now=NOW, limits=LIMITS)
    assert caught.value.reason is RejectReason.KEY_NOT_VALID


def test_a_message_past_its_expiry_is_rejected() -> None:
    sealed = seal_simple(PAIR.police, lifetime=timedelta(minutes=1))
    later = sealed.header.expires_at
    with pytest.raises(EnvelopeRejected) as caught:
        open_envelope(PAIR.ratanakiri, sealed.data, now=later, limits=LIMITS)
    assert caught.value.reason is RejectReason.MESSAGE_EXPIRED
    opened = open_envelope(
        PAIR.ratanakiri, sealed.data, now=later - timedelta(milliseconds=1), limits=LIMITS
    )
    assert opened.header.message_id == sealed.header.message_id


def test_a_message_from_the_future_is_rejected() -> None:
    sealed = seal_simple(PAIR.police, created_at=NOW + timedelta(minutes=6))
    with pytest.raises(EnvelopeRejected) as caught:
        open_envelope(PAIR.ratanakiri, sealed.data, now=NOW, limits=LIMITS)
    assert caught.value.reason is RejectReason.CREATED_IN_FUTURE
    skewed = seal_simple(PAIR.police, created_at=NOW + timedelta(minutes=4))
    assert open_envelope(PAIR.ratanakiri, skewed.data, now=NOW, limits=LIMITS)


def test_an_oversized_envelope_is_rejected_before_parsing() -> None:
    sealed = seal_simple(PAIR.police, message=b"x" * 2000)
    small = EnvelopeLimits(max_envelope_bytes=len(sealed.data) - 1)
    with pytest.raises(EnvelopeRejected) as caught:
        open_envelope(PAIR.ratanakiri, sealed.data, now=NOW, limits=small)
    assert caught.value.reason is RejectReason.ENVELOPE_TOO_LARGE
    with pytest.raises(EnvelopeRejected) as garbage:
        open_envelope(PAIR.ratanakiri, b"\xff" * 10, now=NOW, limits=small)
    assert garbage.value.reason is RejectReason.HEADER_MALFORMED


def test_a_rotated_out_key_still_opens_what_it_sealed_while_valid() -> None:
    first = KeyValidity(T0, T0 + timedelta(days=30))
    second = KeyValidity(T0 + timedelta(days=20), T0 + timedelta(days=400))
    old_police, new_police = (OwnKeyPair.generate("k1", first), OwnKeyPair.generate("k2", second))
    old_rtk, new_rtk = (OwnKeyPair.generate("k1", first), OwnKeyPair.generate("k2", second))
    police = Keyring(
        "vn-gialai-police",
        [old_police, new_police],
        {"kh-ratanakiri-police": [old_rtk.public(), new_rtk.public()]},
    )
    ratanakiri = Keyring(
        "kh-ratanakiri-police",
        [old_rtk, new_rtk],
        {"vn-gialai-police": [old_police.public(), new_police.public()]},
    )
    before = seal_simple(police, created_at=T0 + timedelta(days=10), lifetime=timedelta(days=30))
    assert (before.header.sender_key_id, before.header.recipient_key_id) == ("k1", "k1")
    during = seal_simple(police, created_at=T0 + timedelta(days=25), lifetime=timedelta(days=30))
    assert (during.header.sender_key_id, during.header.recipient_key_id) == ("k2", "k2")
    after_rotation = T0 + timedelta(days=35)
    opened = open_envelope(ratanakiri, before.data, now=after_rotation, limits=LIMITS)
    assert opened.sender_key.key_id == "k1"
    assert open_envelope(ratanakiri, during.data, now=after_rotation, limits=LIMITS)


def test_sealing_without_a_valid_key_is_refused() -> None:
    with pytest.raises(ValueError, match="no key pair valid"):
        seal_simple(PAIR.police, created_at=T0 - timedelta(days=1))
    with pytest.raises(ValueError, match="peer xx-nobody"):
        seal_simple(PAIR.police, recipient="xx-nobody")


def test_unknown_fields_in_an_envelope_are_refused() -> None:
    # An extra field would change the envelope's hash without touching what is signed.
    padded = SEALED.data + b"\x22\x01x"
    with pytest.raises(EnvelopeRejected) as caught:
        open_envelope(PAIR.ratanakiri, padded, now=NOW, limits=LIMITS)
    assert caught.value.reason is RejectReason.HEADER_MALFORMED


def test_a_low_order_sender_key_fails_decryption_not_the_process() -> None:
    bad = PublicKeyPair(
        "k1", PAIR.police_key.public().signing_public, bytes(32), PAIR.police_key.validity
    )
    receiver = Keyring("kh-ratanakiri-police", [PAIR.ratanakiri_key], {"vn-gialai-police": [bad]})
    with pytest.raises(EnvelopeRejected) as caught:
        open_envelope(receiver, SEALED.data, now=NOW, limits=LIMITS)
    assert caught.value.reason is RejectReason.DECRYPTION_FAILED


def test_a_lifetime_beyond_the_limit_is_refused() -> None:
    sealed = seal_simple(PAIR.police, lifetime=timedelta(days=7))
    strict = EnvelopeLimits(max_lifetime=timedelta(days=6))
    with pytest.raises(EnvelopeRejected) as caught:
        open_envelope(PAIR.ratanakiri, sealed.data, now=NOW, limits=strict)
    assert caught.value.reason is RejectReason.LIFETIME_TOO_LONG
    with pytest.raises(ValueError, match="at most 30 days"):
        seal_simple(PAIR.police, lifetime=timedelta(days=31))


# docs/PROTOCOL.md section 1: an instant is representable from 0001-01-01T00:00:00.000Z to
# 9999-12-31T23:59:59.999Z; an envelope's also after the epoch (section 5, check 2j).
LAST_REPRESENTABLE_MS = 253_402_300_799_999


@pytest.mark.parametrize(
    ("created_ms", "expires_ms", "accepted"),
    [
        (1, 2, True),
        (LAST_REPRESENTABLE_MS - 1, LAST_REPRESENTABLE_MS, True),
        (LAST_REPRESENTABLE_MS - 1, LAST_REPRESENTABLE_MS + 1, False),
        (LAST_REPRESENTABLE_MS + 1, LAST_REPRESENTABLE_MS + 2, False),
        (2**63 - 2, 2**63 - 1, False),
        (0, 1, False),
    ],
)
def test_header_instants_are_judged_by_the_documented_range(
    created_ms: int, expires_ms: int, *, accepted: bool
) -> None:
    header = envelope.EnvelopeHeader.FromString(envelope.Envelope.FromString(SEALED.data).header)
    header.created_at_ms, header.expires_at_ms = created_ms, expires_ms
    data = envelope.Envelope(
        header=header.SerializeToString(), ciphertext=b"c", signature=b"s"
    ).SerializeToString()
    if accepted:
        _, parsed = parse_header(data)
        assert to_unix_ms(parsed.expires_at) == expires_ms
        return
    with pytest.raises(EnvelopeRejected) as caught:
        parse_header(data)
    assert caught.value.reason is RejectReason.HEADER_MALFORMED


@pytest.mark.parametrize(
    ("ms", "representable"),
    [
        (-62_135_596_800_000, True),
        (-62_135_596_800_001, False),
        (0, True),
        (LAST_REPRESENTABLE_MS, True),
        (LAST_REPRESENTABLE_MS + 1, False),
        (2**62, False),
    ],
    ids=["first", "before-first", "epoch", "last", "after-last", "far-future"],
)
def test_control_payload_instants_are_judged_by_the_same_range(
    ms: int, *, representable: bool
) -> None:
    # Acknowledgements, confirmations and announcements all check with this one function.
    assert is_representable_ms(ms) is representable
    if representable:
        assert to_unix_ms(from_unix_ms(ms)) == ms

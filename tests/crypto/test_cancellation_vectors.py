"""tests/vectors/cancellation-confirmation-v1.json, recomputed: the CancellationConfirmation
bytes from its fields, the sealed envelope from the fixed keys, nonce and ids, and what the
cancellation's sender reads out of it (docs/PROTOCOL.md section 14)."""

from __future__ import annotations

import uuid

from gateway.config.values import parse_instant
from gateway.crypto import OwnKeyPair
from gateway.crypto.envelope import from_unix_ms
from gateway.federation.cancellation import read_confirmation
from gateway.wire import ControlKind, cancellation
from tests.crypto.vector_support import (
    ENVELOPE_VECTORS,
    check_envelope_pairs,
    check_message,
    check_reseals,
    keyring,
    load,
    open_vector,
    pair,
    validity,
)

VECTORS = load("cancellation-confirmation-v1.json")
FIELDS = VECTORS["confirmation_fields"]
HEADER = VECTORS["header_fields"]


def _pair(name: str) -> OwnKeyPair:
    # The file's keys carry no validity: they are valid for envelope-v1.json's year.
    return pair(VECTORS["keys"][name], validity(ENVELOPE_VECTORS["keys"][name]))


def test_the_confirmation_bytes_follow_from_its_fields() -> None:
    built = cancellation.CancellationConfirmation(
        version=FIELDS["version"],
        cancellation_message_id=uuid.UUID(FIELDS["cancellation_message_id"]).bytes,
        case_id=uuid.UUID(FIELDS["case_id"]).bytes,
        confirmed_at_ms=FIELDS["confirmed_at_ms"],
        withdrawn_deliveries=FIELDS["withdrawn_deliveries"],
        case_state=FIELDS["case_state_value"],
    )
    check_message(VECTORS, "confirmation", built.SerializeToString())
    assert cancellation.CaseState.Name(built.case_state) == FIELDS["case_state"]
    assert from_unix_ms(FIELDS["confirmed_at_ms"]) == parse_instant(FIELDS["confirmed_at"])


def test_the_same_keys_nonce_and_id_seal_the_same_envelope() -> None:
    # The pairs are envelope-v1.json's own; here its recipient confirms to its sender.
    check_envelope_pairs(VECTORS)
    confirming = keyring(HEADER["sender"], _pair("recipient"), HEADER["recipient"], _pair("sender"))
    check_reseals(VECTORS, confirming, ControlKind.CANCELLATION_CONFIRMATION)


def test_the_cancellations_sender_reads_what_was_confirmed() -> None:
    sender = keyring(HEADER["recipient"], _pair("sender"), HEADER["sender"], _pair("recipient"))
    opened = open_vector(VECTORS, sender, ControlKind.CANCELLATION_CONFIRMATION)
    confirmed = read_confirmation(opened)
    assert (
        str(confirmed.cancellation_message_id),
        str(confirmed.case_id),
        confirmed.confirmed_at,
        confirmed.withdrawn,
    ) == (
        FIELDS["cancellation_message_id"],
        FIELDS["case_id"],
        parse_instant(FIELDS["confirmed_at"]),
        FIELDS["withdrawn_deliveries"],
    )

"""The one normalisation every free-text identifier passes before it reaches an index."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.policy.identifiers import (
    MAX_IDENTIFIER_BYTES,
    MAX_IDENTIFIER_CHARS,
    IdentifierInvalid,
    normalise_case_id,
    normalise_identifier,
    normalise_identifiers,
)
from gateway.wire import canonical

CASE = "0193f0c2-7d4e-7abc-8def-0123456789ab"


@pytest.mark.parametrize(
    ("given", "indexed"),
    [
        ("TB-1", "TB-1"),
        ("  TB-1 ", "TB-1"),
        ("TB-1\u200b", "TB-1"),  # zero-width space
        ("\ufeffTB-1", "TB-1"),  # byte order mark from a Windows export
        ("T\u200dB\u200c-\u00ad1\u200e", "TB-1"),  # joiners, soft hyphen, direction mark
        ("S\u1ed1 12/CA", "S\u1ed1 12/CA"),
        ("So\u0302\u0301 12/CA", "S\u1ed1 12/CA"),  # decomposed tone marks compose
        ("\u17e1\u17e2", "\u17e1\u17e2"),  # Khmer digits are kept (the adapters map them)
        ("x" * MAX_IDENTIFIER_CHARS, "x" * MAX_IDENTIFIER_CHARS),
        ("\U0001f600" * MAX_IDENTIFIER_CHARS, "\U0001f600" * MAX_IDENTIFIER_CHARS),
    ],
)
def test_identifiers_are_indexed_in_one_form(given: str, indexed: str) -> None:
    assert len(indexed.encode()) <= MAX_IDENTIFIER_BYTES
    assert normalise_identifier("sender_reference", given) == indexed
    assert normalise_identifier("sender_reference", indexed) == indexed


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("TB-\x00", "without control characters"),
        ("TB\n1", "without control characters"),
        ("TB\t1", "without control characters"),
        ("TB\x7f1", "without control characters"),
        ("TB\u20281", "without control characters"),  # line separator
        ("\u200b", "visible characters"),
        ("   ", "visible characters"),
        ("x" * (MAX_IDENTIFIER_CHARS + 1), "at most 128 characters"),
        ("\U0001f600" * (MAX_IDENTIFIER_CHARS + 1), "bytes of UTF-8"),
        ("7" * 100_000, "at most 128 characters"),
    ],
)
def test_unusable_identifiers_are_refused_without_quoting_them(given: str, expected: str) -> None:
    with pytest.raises(IdentifierInvalid) as raised:
        normalise_identifier("hotline_alert.call_id", given)
    assert raised.value.field == "hotline_alert.call_id"
    assert expected in raised.value.expected
    assert given.strip() not in str(raised.value) or not given.strip()


@pytest.mark.parametrize(
    "given", [CASE, CASE.upper(), f"urn:uuid:{CASE}", "{" + CASE + "}", CASE.replace("-", "")]
)
def test_case_ids_take_the_canonical_form(given: str) -> None:
    assert normalise_case_id(given) == CASE


@pytest.mark.parametrize("given", ["case-1", CASE + "0", "urn:uuid:", CASE + "\x00"])
def test_a_case_id_that_is_no_uuid_is_refused(given: str) -> None:
    with pytest.raises(IdentifierInvalid, match="case_id: expected a UUID"):
        normalise_case_id(given)


def test_every_identifier_field_of_a_message_is_normalised_in_place() -> None:
    message = canonical.Message(
        case_id=CASE.upper(),
        sender_reference="TB-1\u200b",
        in_reply_to=" TB-0 ",
        hotline_alert=canonical.HotlineAlert(call_id="\ufeff111-1"),
    )
    normalise_identifiers(message)
    assert (message.case_id, message.sender_reference, message.in_reply_to) == (
        CASE,
        "TB-1",
        "TB-0",
    )
    assert message.hotline_alert.call_id == "111-1"
    assert not canonical.Message(sender_reference="x").HasField("hotline_alert")
    plain = canonical.Message(sender_reference="x")
    normalise_identifiers(plain)
    assert not plain.HasField("hotline_alert")


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_normalising_is_idempotent_and_leaves_nothing_invisible(text: str) -> None:
    try:
        once = normalise_identifier("sender_reference", text)
    except IdentifierInvalid:
        return  # refusals are covered above; here only what is accepted matters
    assert normalise_identifier("sender_reference", once) == once
    assert unicodedata.is_normalized("NFC", once)
    assert not any(unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"} for char in once)
    assert len(once) <= MAX_IDENTIFIER_CHARS
    assert len(once.encode()) <= MAX_IDENTIFIER_BYTES

"""BatchScanner against the protobuf parser, on any body cut into any chunks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.federation.batch import BatchRefused, BatchScanner
from gateway.wire import envelope

MAX = 5


def _scan(body: bytes, cuts: list[int], max_envelopes: int = MAX) -> list[bytes]:
    scanner = BatchScanner(max_envelopes)
    start = 0
    for cut in sorted({c % (len(body) + 1) for c in cuts}):
        scanner.feed(body[start:cut])
        start = cut
    scanner.feed(body[start:])
    return scanner.envelopes()


@given(
    envelopes=st.lists(st.binary(max_size=300), min_size=1, max_size=MAX),
    cuts=st.lists(st.integers(min_value=0), max_size=8),
)
def test_a_valid_batch_gives_what_the_protobuf_parser_gives(
    envelopes: list[bytes], cuts: list[int]
) -> None:
    body = envelope.EnvelopeBatch(envelopes=envelopes).SerializeToString()
    assert _scan(body, cuts) == list(envelope.EnvelopeBatch.FromString(body).envelopes)


@given(body=st.binary(max_size=2000), cuts=st.lists(st.integers(min_value=0), max_size=8))
def test_any_body_is_refused_or_parsed_like_protobuf_would(body: bytes, cuts: list[int]) -> None:
    try:
        scanned = _scan(body, cuts, max_envelopes=10_000)
    except BatchRefused as refused:
        code = refused.code
    else:
        # Whatever the scanner accepts, protobuf parses to the same envelopes.
        assert scanned == list(envelope.EnvelopeBatch.FromString(body).envelopes)
        return
    assert code == "malformed_request"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        # The 6th record is refused from its tag alone, before its length or content arrive.
        (b"\x0a\x00" * MAX + b"\x0a", "too_many_envelopes"),
        # Records of unknown fields count too.
        (b"\x0a\x00" + b"\x10\x01" * MAX, "too_many_envelopes"),
        (b"\x0a\x00" * (8 * 1024 * 1024), "too_many_envelopes"),
        (b"", "malformed_request"),
        (b"\x10\x01", "malformed_request"),  # no envelope at all
        (b"\x0a\x05abc", "malformed_request"),  # truncated
        (b"\x08\x01", "malformed_request"),  # field 1 as a varint
        (b"\x0b", "malformed_request"),  # a group
        (b"\x02\x00", "malformed_request"),  # field number 0
        (b"\x0a" + b"\xff" * 11, "malformed_request"),  # varint too long
    ],
)
def test_refusals(body: bytes, code: str) -> None:
    with pytest.raises(BatchRefused) as refused:
        _scan(body, [])
    assert refused.value.code == code

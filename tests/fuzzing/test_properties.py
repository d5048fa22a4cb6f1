"""Property tests of everything that reads bytes from outside: only results or verdicts.

open_envelope only returns or raises EnvelopeRejected with a documented reason; the
federation request parser only returns envelopes or BatchRefused with a documented code; each
adapter's decoder only returns or raises DocumentInvalid. Inputs: the seeds of
tools/fuzz_targets.py (valid samples, the test vector, and the edge inputs that found crashes
before), and hypothesis's mutations of them. Bounded to a few seconds per target; the long
runs are tools/fuzz.py's (see README, "Fuzzing").
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.crypto import EnvelopeRejected
from gateway.federation.batch import BatchLimits, BatchRefused, parse_envelope_batch
from gateway.wire import envelope
from tools.fuzz_targets import Target, edge_inputs, targets, vector_envelope

TARGETS = targets()
FAST = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few byte-level edits: flips, inserts, deletes, cuts, duplicated slices."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["flip", "insert", "delete", "cut", "repeat"]))
        if edit == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif edit == "cut":
            del data[at:]
        elif edit == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 64))] * draw(st.integers(1, 4))
    return bytes(data)


def _inputs(target: Target) -> st.SearchStrategy[bytes]:
    return mutated(target.seeds()) | st.binary(max_size=512)


def test_the_vector_opens_and_every_seed_gets_a_verdict() -> None:
    target = TARGETS["open_envelope"]
    assert target.call(vector_envelope()) is not None
    for seed in target.seeds():
        target.call(seed)


@FAST
@given(data=_inputs(TARGETS["open_envelope"]))
def test_open_envelope_returns_or_rejects_with_a_reason(data: bytes) -> None:
    opened = TARGETS["open_envelope"].call(data)
    # Only the signed vector itself opens: a mutation never passes the signature.
    assert opened is None or data == vector_envelope()


@FAST
@given(
    envelopes=st.lists(mutated(TARGETS["open_envelope"].seeds()), max_size=8),
    tail=st.binary(max_size=16),
)
def test_a_batch_of_mutated_envelopes_parses_and_each_gets_a_reason(
    envelopes: list[bytes], tail: bytes
) -> None:
    body = envelope.EnvelopeBatch(envelopes=envelopes).SerializeToString()
    TARGETS["federation_batch"].call(body)
    TARGETS["federation_batch"].call(body + tail)


@FAST
@given(data=_inputs(TARGETS["federation_batch"]))
def test_the_request_parser_returns_envelopes_or_a_refusal_with_a_code(data: bytes) -> None:
    TARGETS["federation_batch"].call(data)


def test_the_request_parser_refusals_carry_the_documented_codes() -> None:
    cases = [
        (b"", 400, "malformed_request"),
        (b"\xff" * 8, 400, "malformed_request"),
        (b"\x0a\x05ab", 400, "malformed_request"),
        (b"\x0a\x00" * 4, None, None),
        (b"x" * 101, 413, "body_too_large"),
    ]
    for body, status, code in cases:
        if status is None:
            assert parse_envelope_batch(body, BatchLimits(100)) == [b""] * 4
            continue
        with pytest.raises(BatchRefused) as refused:
            parse_envelope_batch(body, BatchLimits(100))
        assert (refused.value.status, refused.value.code) == (status, code)
    with pytest.raises(EnvelopeRejected):
        TARGETS["open_envelope"].run(b"")


ADAPTERS = ["vn-police-json", "kh-police-xml", "hotline-111-csv", "canonical-json"]


@pytest.mark.parametrize(
    ("format_id", "index"),
    [(name, index) for name in ADAPTERS for index in range(len(edge_inputs()))],
)
def test_each_decoder_answers_every_edge_input(format_id: str, index: int) -> None:
    TARGETS[format_id].call(edge_inputs()[index])


@pytest.mark.parametrize("format_id", ADAPTERS)
def test_each_decoder_returns_or_refuses_mutated_samples(format_id: str) -> None:
    target = TARGETS[format_id]
    samples = [seed for seed in target.seeds() if seed not in edge_inputs()]

    @FAST
    @given(data=mutated(samples) | st.binary(max_size=256))
    def decode(data: bytes) -> None:
        target.call(data)

    decode()

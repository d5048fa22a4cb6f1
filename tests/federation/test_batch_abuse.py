"""Batches that cost a receiver too much, against real gateway processes over HTTPS.

The attacker claims a configured peer in BLG-Sender (nothing else is needed with mutual TLS
off, the default) and posts batches of many envelopes, empty, junk or forged. Each must be
refused before any crypto or database work, quickly, with a small answer; batches within the
limits are answered with one receipt each, and the answer's size is bounded by the count.
The honest sender, for its part, must live with a peer's smaller limits: 429 means later, 413
means smaller batches, and nothing ends rejected for it.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
import pytest

from gateway.wire import envelope
from tests.federation.attack import (
    empty_envelopes,
    forged_envelopes,
    junk_envelopes,
    post_batch,
)
from tests.federation.harness import Federation, alert

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
PER_BATCH = 100
# A receipt names two node ids (at most 63 characters each), a key id (at most 64), a reason
# code, a hash and a signature: well under 512 bytes.
RECEIPT_BOUND = 512


async def _start(federation: Federation, *nodes: str) -> None:
    for node in nodes:
        federation.start(node)
    for node in nodes:
        await federation.wait_ready(node)


async def _inbox_size(federation: Federation, node: str) -> int:
    store = await federation.store(node)
    try:
        return len(await store.list_inbox(limit=1000))
    finally:
        await store.close()


BATCHES: dict[str, Callable[[Federation], bytes]] = {
    "16 MiB of empty envelopes": lambda _: empty_envelopes(),
    "10,000 junk envelopes": lambda _: junk_envelopes(10_000),
    "one envelope too many, forged": lambda f: forged_envelopes(
        f, POLICE, RATANAKIRI, count=PER_BATCH + 1, size=1000
    ),
}


@pytest.mark.parametrize("batch", BATCHES)
async def test_a_batch_of_too_many_envelopes_is_refused_cheaply(
    federation: Federation, batch: str
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    await _start(federation, RATANAKIRI)
    async with aiohttp.ClientSession() as session:
        answer = await post_batch(
            session, federation, RATANAKIRI, POLICE, BATCHES[batch](federation)
        )
        assert (answer.status, answer.code()) == (413, "too_many_envelopes")
        assert len(answer.body) < 200
        # Today's node took 34 s for 2 MB; refusing before crypto takes milliseconds. The
        # bound is generous for a shared machine; the point is seconds versus minutes.
        assert answer.seconds < 10
        # And the node is not left busy: the next honest-sized request goes through at once.
        small = await post_batch(session, federation, RATANAKIRI, POLICE, junk_envelopes(1))
        assert small.status == 200
    assert await _inbox_size(federation, RATANAKIRI) == 0


async def test_a_full_batch_is_answered_with_receipts_of_bounded_size(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    await _start(federation, RATANAKIRI)
    async with aiohttp.ClientSession() as session:
        for body in (
            junk_envelopes(PER_BATCH),
            forged_envelopes(federation, POLICE, RATANAKIRI, count=PER_BATCH, size=100_000),
        ):
            answer = await post_batch(session, federation, RATANAKIRI, POLICE, body)
            assert answer.status == 200
            receipts = envelope.ReceiptBatch.FromString(answer.body).receipts
            assert len(receipts) == PER_BATCH
            assert len(answer.body) <= PER_BATCH * RECEIPT_BOUND
            reasons = {envelope.ReceiptBody.FromString(r.body).reason_code for r in receipts}
            assert reasons <= {"header_malformed", "bad_signature"}
    assert await _inbox_size(federation, RATANAKIRI) == 0


async def test_the_envelope_rate_limit_counts_envelopes_not_requests(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    # One envelope per 100 s: the bucket holds what its burst holds for the whole test.
    federation.rate_limits[RATANAKIRI, POLICE] = {
        "envelopes_per_second": 0.01,
        "envelope_burst": PER_BATCH,
    }
    federation.write_config(RATANAKIRI)
    await _start(federation, RATANAKIRI)
    # Far under the request limit (1,000/s) throughout: only envelopes are counted.
    steps = [
        (60, 200, None),
        # 40 tokens left: a batch of 100 waits for 60 more, and takes none meanwhile...
        (PER_BATCH, 429, 60 * 100),
        # ... so a batch of 40 still fits,
        (40, 200, None),
        # and an empty bucket refuses before the body is read.
        (1, 429, 100),
    ]
    async with aiohttp.ClientSession() as session:
        for count, status, retry_after in steps:
            answer = await post_batch(
                session, federation, RATANAKIRI, POLICE, junk_envelopes(count)
            )
            assert answer.status == status, count
            if retry_after is not None:
                assert answer.code() == "rate_limited"
                assert answer.retry_after is not None
                # Whole seconds until the tokens are there (less a little refill meanwhile).
                assert retry_after - 5 <= int(answer.retry_after) <= retry_after


async def test_the_sender_waits_out_429_and_halves_its_batches_after_413(
    federation: Federation,
) -> None:
    federation.retry = {"initial_backoff": "50ms", "max_backoff": "500ms", "batch_size": 100}
    await federation.add(POLICE, RATANAKIRI)
    # Ratanakiri takes 10 envelopes per request and 5 per second from the police: the
    # police's batches of 30 are refused with 413 until they fit, then with 429 now and then.
    # (Its own batch_size must then be at most 10 too.)
    federation.sections[RATANAKIRI] = {"limits": {"max_envelopes_per_batch": 10}}
    federation.retry = {**federation.retry, "batch_size": 10}
    federation.rate_limits[RATANAKIRI, POLICE] = {"envelopes_per_second": 5, "envelope_burst": 10}
    federation.write_config(RATANAKIRI)
    federation.retry = {**federation.retry, "batch_size": 100}
    federation.write_config(POLICE)
    await _start(federation, RATANAKIRI)
    # Queued before the police start, so that their first batch holds all 30.
    await federation.send(POLICE, RATANAKIRI, [alert(f"TB-{n}") for n in range(30)])
    await _start(federation, POLICE)
    await federation.wait_delivered(POLICE, 30, timeout=60)
    assert await _inbox_size(federation, RATANAKIRI) == 30
    assert '"event": "batch_too_large"' in federation.log_tail(POLICE)
    metrics = await federation.metrics_text(RATANAKIRI)
    assert 'blg_federation_refused_requests_total{reason="too_many_envelopes"}' in metrics
    assert 'blg_federation_refused_requests_total{reason="rate_limited"}' in metrics

"""Fault matrix, network: the peer seen through a faulty TCP proxy (slow, reset, garbage,
truncated answers). TLS runs end to end through the proxy; the sender must retry what it
could not confirm and the receiver must take each resent envelope once."""

from __future__ import annotations

import pytest

from tests.faults.cells import RECEIVER, SENDER, Exchange
from tests.faults.proxy import FaultyProxy, Mode
from tests.federation.harness import Federation

MESSAGES = 200


@pytest.mark.parametrize(
    ("mode", "faults", "evidence"),
    [
        # A trickling link delivers, only slower: a whole batch must get through it.
        (Mode.SLOW, 1, ("delivered while slow", SENDER, "", {})),
        (
            Mode.RESET_REQUEST,
            3,
            ("network errors", SENDER, "blg_delivery_requests_total", {"result": "network"}),
        ),
        # The receiver stored the batch, the receipts were lost: the resend must be answered
        # from the replay cache, never stored twice.
        (
            Mode.RESET_RESPONSE,
            3,
            ("replays", RECEIVER, "blg_received_envelopes_total", {"result": "replay"}),
        ),
        (
            Mode.GARBAGE,
            3,
            ("network errors", SENDER, "blg_delivery_requests_total", {"result": "network"}),
        ),
        (
            Mode.TRUNCATE,
            3,
            ("network errors", SENDER, "blg_delivery_requests_total", {"result": "network"}),
        ),
    ],
    ids=["slow", "reset_request", "reset_response", "garbage", "truncate"],
)
async def test_a_faulty_link_to_the_peer_loses_and_duplicates_nothing(
    federation: Federation,
    mode: Mode,
    faults: int,
    evidence: tuple[str, str, str, dict[str, str]],
) -> None:
    exchange = await Exchange.create(federation)
    proxy = FaultyProxy(federation.nodes[RECEIVER].federation_port)
    await proxy.start()
    try:
        exchange.route_through(proxy.port)
        await exchange.start(RECEIVER, SENDER)
        proxy.mode = mode
        queued = await exchange.send(MESSAGES, mode.value)
        await proxy.wait_faults(mode, faults)
        what, node, metric, labels = evidence
        if metric:
            seen = await exchange.metric(node, metric, **labels)
        else:
            seen = await exchange.wait_delivered_between(MESSAGES // 2, MESSAGES + 1)
        proxy.mode = Mode.PASS
        await exchange.assert_exactly_once(queued)
        if metric:
            # Counted again after the run: a reset response is replayed only once resent.
            seen = await exchange.metric(node, metric, **labels)
        assert seen > 0, f"the fault left no trace ({what})"
    finally:
        await proxy.close()

"""OfflineCourier in process, against real node databases: what only the service can be
asked (receipts naming messages never sent to the bundle's sender, a bundle sealed with a
stolen bundle id, the outbox transition rule), beside the CLI's round trip
(tests/cli/test_bundle_cmd.py) and the proof with running nodes (test_bundles_e2e.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from gateway.components import offline_courier_for
from gateway.crypto import sign_receipt
from gateway.crypto.bundle import BundleKind, BundleReason, BundleRefused, seal_bundle
from gateway.federation.bundles import RECEIPT_UNKNOWN_MESSAGE, OfflineCourier
from gateway.ops.metrics import GatewayMetrics
from gateway.store import Store
from gateway.wire import uuid7
from tests.federation.harness import Federation, alert

POLICE, RATANAKIRI, KONTUM = "vn-gialai-police", "kh-ratanakiri-police", "vn-kontum-police"


def _now() -> datetime:
    return datetime.now(UTC)


def _courier(federation: Federation, node: str, store: Store) -> OfflineCourier:
    config = federation.config(node)
    return offline_courier_for(config, store, federation.keyring(node), _now, GatewayMetrics())


async def test_a_receipt_for_a_message_sent_to_another_peer_is_not_applied(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI, KONTUM)
    to_kontum = await federation.send(POLICE, KONTUM, [alert("TB-9")])
    store = await federation.store(POLICE)
    try:
        row = await store.get_outbox(to_kontum[0].message_id)
        assert row is not None
        assert row[1] is not None
        # Ratanakiri signs a receipt for an envelope that went to Kontum.
        ratanakiri = federation.keyring(RATANAKIRI)
        receipt = sign_receipt(
            ratanakiri,
            envelope_data=row[1],
            message_id=to_kontum[0].message_id,
            sender=POLICE,
            received_at=_now(),
        )
        data = seal_bundle(
            ratanakiri,
            recipient=POLICE,
            kind=BundleKind.RECEIPTS,
            items=[receipt, b"\x00garbage"],
            bundle_id=uuid7(),
            created_at=_now(),
        )
        outcome = await _courier(federation, POLICE, store).import_bundle(data)
        assert outcome.refused == {RECEIPT_UNKNOWN_MESSAGE: 2}
        assert (outcome.receipted, outcome.accepted) == (0, 0)
        after = await store.get_outbox(to_kontum[0].message_id)
        assert after is not None
        assert after[0].state == "queued"
    finally:
        await store.close()


async def test_an_empty_export_writes_nothing_and_an_unknown_peer_is_refused(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    store = await federation.store(POLICE)
    try:
        courier = _courier(federation, POLICE, store)
        empty = await courier.export(RATANAKIRI)
        assert (empty.message_count, empty.data) == (0, b"")
        with pytest.raises(BundleRefused) as refused:
            await courier.export("xx-nobody")
        assert refused.value.code is BundleReason.MISADDRESSED
    finally:
        await store.close()


async def test_only_a_row_that_travelled_in_a_bundle_goes_from_queued_to_delivered(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    queued = await federation.send(POLICE, RATANAKIRI, [alert("TB-1")])
    connection = await asyncpg.connect(federation.nodes[POLICE].dsn)
    try:
        with pytest.raises(asyncpg.CheckViolationError):
            await connection.execute(
                "UPDATE outbox SET state = 'delivered' WHERE message_id = $1",
                queued[0].message_id,
            )
    finally:
        await connection.close()


async def test_a_not_yet_refusal_leaves_the_message_queued_for_the_next_bundle(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    queued = await federation.send(POLICE, RATANAKIRI, [alert("TB-2")])
    message_id = queued[0].message_id
    store = await federation.store(POLICE)
    try:
        courier = _courier(federation, POLICE, store)
        exported = await courier.export(RATANAKIRI)
        assert exported.message_count == 1
        row = await store.get_outbox(message_id)
        assert row is not None
        assert row[1] is not None
        ratanakiri = federation.keyring(RATANAKIRI)
        refusal = sign_receipt(
            ratanakiri,
            envelope_data=row[1],
            message_id=message_id,
            sender=POLICE,
            received_at=_now(),
            rejection="created_in_future",
        )
        data = seal_bundle(
            ratanakiri,
            recipient=POLICE,
            kind=BundleKind.RECEIPTS,
            items=[refusal],
            bundle_id=uuid7(),
            created_at=_now(),
        )
        outcome = await courier.import_bundle(data)
        assert (outcome.accepted, outcome.receipted, outcome.refused) == (1, 0, {})
        after = await store.get_outbox(message_id)
        assert after is not None
        assert after[0].state == "queued"
        assert await store.bundles_travelling([message_id]) == {}
        assert (await courier.export(RATANAKIRI)).message_count == 1
        with pytest.raises(BundleRefused) as replayed:
            await courier.import_bundle(data)
        assert replayed.value.code is BundleReason.REPLAYED
    finally:
        await store.close()

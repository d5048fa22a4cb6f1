"""The exchange between real gateway processes over HTTPS, with a real PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import random
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp

from gateway.config import PeerKeyConfig
from gateway.crypto import (
    EnvelopeLimits,
    Keyring,
    KeyValidity,
    OwnKeyPair,
    open_envelope,
    seal,
    verify_receipt,
)
from gateway.federation.server import ENVELOPES_PATH, PROTOBUF, SENDER_HEADER
from gateway.store import Store
from gateway.wire import Kind, canonical, envelope, uuid7
from tests.federation.harness import Federation, alert, free_port

POLICE, RATANAKIRI, BLO = "vn-gialai-police", "kh-ratanakiri-police", "vn-gialai-blo"


async def _start(federation: Federation, *node_ids: str) -> None:
    for node_id in node_ids:
        federation.start(node_id)
    for node_id in node_ids:
        await federation.wait_ready(node_id)


async def _audit_actions(store: Store) -> list[str]:
    verdict = await store.verify_audit()
    assert verdict.intact, verdict
    return [entry.action for entry in await store.list_audit(limit=10_000)]


async def test_delivery_with_a_verified_stored_receipt_and_intact_audit_chains(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    await _start(federation, POLICE, RATANAKIRI)
    queued = await federation.send(POLICE, RATANAKIRI, [alert("TB-1"), alert("TB-2")])
    await federation.wait_delivered(POLICE, 2)

    sender, receiver = await federation.store(POLICE), await federation.store(RATANAKIRI)
    try:
        receiver_keys = federation.keyring(POLICE).peer_keys(RATANAKIRI)
        for item in queued:
            found = await sender.get_outbox(item.message_id)
            assert found is not None
            row, envelope_data, receipt = found
            assert row.state == "delivered"
            assert receipt is not None
            facts = verify_receipt(
                receipt,
                receiver=RATANAKIRI,
                receiver_keys=receiver_keys,
                envelope_data=envelope_data,
            )
            assert facts.accepted
            assert facts.message_id == item.message_id
        inbox = await receiver.list_inbox()
        assert sorted(row.message_id for row in inbox) == sorted(q.message_id for q in queued)
        stored = await receiver.get_inbox(queued[0].message_id)
        assert stored is not None
        assert stored[1] is not None
        opened = open_envelope(
            federation.keyring(RATANAKIRI),
            stored[1],
            now=datetime.now(UTC),
            limits=EnvelopeLimits(),
        )
        assert canonical.Message.FromString(opened.payload.message).sender_reference == "TB-1"
        assert sorted(await _audit_actions(sender)) == sorted(
            ["outbox.queued"] * 2 + ["outbox.delivered"] * 2
        )
        assert await _audit_actions(receiver) == ["inbox.received"] * 2
    finally:
        await sender.close()
        await receiver.close()


async def _post(
    federation: Federation, to: str, sender_header: str, envelopes: list[bytes]
) -> tuple[int, bytes]:
    body = envelope.EnvelopeBatch(envelopes=envelopes).SerializeToString()
    url = f"https://127.0.0.1:{federation.nodes[to].federation_port}{ENVELOPES_PATH}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url,
            data=io.BytesIO(body),
            headers={"Content-Type": PROTOBUF, SENDER_HEADER: sender_header},
            # The police's certificate, whoever the header claims: the receipts are what
            # these tests look at.
            ssl=federation.client_ssl(POLICE),
        ) as response,
    ):
        return response.status, await response.read()


async def test_a_resent_envelope_is_stored_once_and_gets_the_same_receipt(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    await _start(federation, POLICE, RATANAKIRI)
    [queued] = await federation.send(POLICE, RATANAKIRI, [alert("TB-9")])
    await federation.wait_delivered(POLICE, 1)
    sender, receiver = await federation.store(POLICE), await federation.store(RATANAKIRI)
    try:
        found = await sender.get_outbox(queued.message_id)
        assert found is not None
        _, envelope_data, original_receipt = found
        assert envelope_data is not None
        answers = []
        for _ in range(2):
            status, body = await _post(federation, RATANAKIRI, POLICE, [envelope_data])
            assert status == 200
            [receipt] = envelope.ReceiptBatch.FromString(body).receipts
            answers.append(receipt.SerializeToString())
        assert answers == [original_receipt, original_receipt]
        assert len(await receiver.list_inbox()) == 1
        assert await _audit_actions(receiver) == ["inbox.received"]
    finally:
        await sender.close()
        await receiver.close()


async def test_a_peer_down_gets_everything_in_order_per_case_when_it_returns(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    await _start(federation, POLICE)
    cases = [str(uuid.uuid4()) for _ in range(3)]
    messages = [alert(f"TB-{i}", cases[i % 3]) for i in range(15)]
    queued = await federation.send(POLICE, RATANAKIRI, messages)
    sender = await federation.store(POLICE)
    try:
        for _ in range(100):
            state = await sender.destination(RATANAKIRI)
            if state.failures >= 2:
                break
            await asyncio.sleep(0.1)
        assert state.failures >= 2, "the sender should back off while the peer is down"
        assert state.retry_at is not None
        assert state.last_error is not None
        assert state.last_error.startswith("network")
        assert {row.state for row in await sender.list_outbox()} == {"queued"}
    finally:
        await sender.close()

    await _start(federation, RATANAKIRI)
    await federation.wait_delivered(POLICE, 15)
    receiver = await federation.store(RATANAKIRI)
    try:
        inbox = sorted(await receiver.list_inbox(limit=100), key=lambda row: row.id)
        for case in cases:
            sent = [q.message_id for q in queued if str(q.case_id) == case]
            arrived = [row.message_id for row in inbox if str(row.case_id) == case]
            assert arrived == sent
    finally:
        await receiver.close()


# Who is killed once the sender has seen how many receipts: alternating sides, the last one
# with a third of the run still to go, so each kill lands mid-run even on a slow machine.
KILLS = [(POLICE, 100), (RATANAKIRI, 350), (POLICE, 600), (RATANAKIRI, 850), (POLICE, 1100)]
KILLS += [(RATANAKIRI, 1350)]


async def _delivered(store: Store) -> int:
    counts = await store.state_counts()
    return sum(n for (_, state), n in counts.items() if state == "delivered")


async def test_kill_9_of_sender_and_receiver_loses_nothing_and_duplicates_nothing(
    federation: Federation,
) -> None:
    federation.retry = {"initial_backoff": "50ms", "max_backoff": "500ms", "batch_size": 20}
    await federation.add(POLICE, RATANAKIRI)
    queued = await federation.send(POLICE, RATANAKIRI, [alert(f"TB-{i}") for i in range(2000)])
    rng = random.Random(2026)
    await _start(federation, POLICE, RATANAKIRI)
    # Kills after which the sender still had messages to deliver, per side.
    mid_run = {POLICE: 0, RATANAKIRI: 0}
    progress = await federation.store(POLICE)
    try:
        for victim, after in KILLS:
            deadline = asyncio.get_running_loop().time() + 120
            while await _delivered(progress) < after:
                assert asyncio.get_running_loop().time() < deadline, (victim, after)
                await asyncio.sleep(0.01)
            federation.kill(victim)
            # Counted once the victim is dead: work was left, so it died mid-run.
            if await _delivered(progress) < 2000:
                mid_run[victim] += 1
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            await _start(federation, victim)
    finally:
        await progress.close()
    await federation.wait_delivered(POLICE, 2000, timeout=120)
    assert mid_run == {POLICE: 3, RATANAKIRI: 3}

    sender, receiver = await federation.store(POLICE), await federation.store(RATANAKIRI)
    try:
        inbox = await receiver.list_inbox(limit=5000)
        assert len(inbox) == 2000
        assert {row.message_id for row in inbox} == {q.message_id for q in queued}
        # Each envelope was processed into the inbox once: one audit entry per message.
        assert (await _audit_actions(receiver)).count("inbox.received") == 2000
        # The messages' rows only: audit checkpoints go to the peer as the chain grows.
        sent = {str(q.message_id) for q in queued}
        rows = [row for row in await sender.list_outbox(limit=5000) if str(row.message_id) in sent]
        assert len(rows) == 2000
        assert {row.state for row in rows} == {"delivered"}
        assert all(row.receipt_received_at is not None for row in rows)
        assert (await sender.verify_audit()).intact
        delivered = [
            entry
            for entry in await sender.list_audit(limit=10_000)
            if entry.action == "outbox.delivered" and entry.subject in sent
        ]
        assert len(delivered) == 2000
    finally:
        await sender.close()
        await receiver.close()


async def _replays_seen(federation: Federation, node_id: str) -> float:
    text = await federation.metrics_text(node_id)
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("blg_received_envelopes_total{") and 'result="replay"' in line
    )


async def test_two_sender_processes_on_one_database_send_each_message_once(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    second_api = free_port()
    federation.write_config(POLICE, variant="-b", federation_port=free_port(), api_port=second_api)
    await _start(federation, RATANAKIRI, POLICE)
    federation.start(POLICE, variant="-b")
    await federation.wait_ready(POLICE, api_port=second_api)
    queued = await federation.send(POLICE, RATANAKIRI, [alert(f"TB-{i}") for i in range(500)])
    await federation.wait_delivered(POLICE, 500)
    receiver = await federation.store(RATANAKIRI)
    try:
        assert len(await receiver.list_inbox(limit=1000)) == len(queued)
        assert (await _audit_actions(receiver)).count("inbox.received") == 500
    finally:
        await receiver.close()
    assert await _replays_seen(federation, RATANAKIRI) == 0


async def test_bad_envelopes_are_refused_with_their_reason_and_nothing_is_stored(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI, BLO)
    now = datetime.now(UTC)
    expired_validity = KeyValidity(now - timedelta(days=30), now - timedelta(days=1))
    old_key = OwnKeyPair.generate("k0", expired_validity)
    federation.write_config(
        RATANAKIRI,
        extra_peer_keys={
            POLICE: [
                PeerKeyConfig(
                    "k0",
                    old_key.public().signing_public,
                    old_key.public().encryption_public,
                    expired_validity.valid_from,
                    expired_validity.valid_until,
                )
            ]
        },
    )
    await _start(federation, RATANAKIRI)
    police = federation.keyring(POLICE)
    ratanakiri_public = federation.keyring(RATANAKIRI).own_public_keys()

    def sealed(keyring: Keyring, recipient: str = RATANAKIRI) -> bytes:
        case_id = uuid.uuid4()
        message = alert("TB-X", str(case_id))
        return seal(
            keyring,
            recipient=recipient,
            kind=Kind.HOTLINE_ALERT,
            case_id=case_id,
            message_id=uuid7(),
            payload=envelope.SealedPayload(message=message.SerializeToString()),
            created_at=now,
            expires_at=now + timedelta(days=1),
        ).data

    good = sealed(police)
    forged = bytearray(good)
    forged[-1] ^= 0x01
    stale_signer = Keyring(
        POLICE,
        [
            OwnKeyPair(
                "k0",
                old_key.signing_key,
                old_key.encryption_key,
                KeyValidity(now - timedelta(days=1), now + timedelta(days=1)),
            )
        ],
        {RATANAKIRI: police.peer_keys(RATANAKIRI)},
    )
    cases = {
        "bad_signature": (POLICE, bytes(forged)),
        "wrong_recipient": (POLICE, sealed(police, BLO)),
        "sender_mismatch": (POLICE, sealed(federation.keyring(BLO))),
        "key_not_valid": (POLICE, sealed(stale_signer)),
    }
    for reason, (claimed, data) in cases.items():
        status, body = await _post(federation, RATANAKIRI, claimed, [data])
        assert status == 200, reason
        [receipt] = envelope.ReceiptBatch.FromString(body).receipts
        facts = verify_receipt(
            receipt.SerializeToString(),
            receiver=RATANAKIRI,
            receiver_keys=ratanakiri_public,
            envelope_data=data,
        )
        assert (facts.accepted, facts.reason_code) == (False, reason)

    status, body = await _post(federation, RATANAKIRI, "xx-unknown-node", [good])
    assert status == 403
    assert b'"unknown_peer"' in body
    oversized = [b"\x00" * (1 << 20)] * 17
    status, body = await _post(federation, RATANAKIRI, POLICE, oversized)
    assert status == 413
    assert b'"body_too_large"' in body

    receiver = await federation.store(RATANAKIRI)
    try:
        assert await receiver.list_inbox() == []
        assert await _audit_actions(receiver) == []
    finally:
        await receiver.close()

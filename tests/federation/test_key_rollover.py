"""Key rollover between real gateway processes: `gateway keys rotate` on a node while messages
flow both ways, and announcements its peer must refuse."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from gateway.components import dispatcher_for, keyring_from_config
from gateway.config import PeerKeyConfig
from gateway.crypto import Keyring, KeyValidity, OwnKeyPair, parse_header, verify_receipt
from gateway.federation.announcements import seal_announcement
from gateway.federation.rollover import learn_recorded
from gateway.federation.server import ENVELOPES_PATH, PROTOBUF, SENDER_HEADER
from gateway.ops.node_health import node_health
from gateway.wire import envelope
from tests.federation.harness import GATEWAY, KEY_VALIDITY, Federation, alert

POLICE, RATANAKIRI = "vn-gialai-police", "kh-ratanakiri-police"
PER_DIRECTION = 30


async def _send(federation: Federation, sender: str, recipient: str, reference: str) -> uuid.UUID:
    """Queue one message as `gateway send` does: the config as it is now on disk, and the keys
    rollover recorded in the database."""
    store = await federation.store(sender)
    try:
        config = federation.config(sender)
        keyring = keyring_from_config(config)
        await learn_recorded(keyring, store)
        dispatcher = dispatcher_for(config, store, lambda: datetime.now(UTC), keyring)
        queued = await dispatcher.submit(alert(reference), [recipient], actor="test")
    finally:
        await store.close()
    return queued[0].message_id


async def _flow(federation: Federation, sender: str, recipient: str, tag: str) -> list[uuid.UUID]:
    sent = []
    for number in range(PER_DIRECTION):
        sent.append(await _send(federation, sender, recipient, f"{tag}-{number}"))
        await asyncio.sleep(0.05)
    return sent


async def _rotate(federation: Federation, node_id: str) -> str:
    process = await asyncio.create_subprocess_exec(
        GATEWAY,
        "keys",
        "rotate",
        "--config",
        str(federation.config_path(node_id)),
        "--overlap",
        "1h",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def _announcement_delivered(federation: Federation, node_id: str, peer: str) -> None:
    store = await federation.store(node_id)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = await store.list_outbox(peer=peer, limit=1000)
            if any(r.kind == "key_announcement" and r.state == "delivered" for r in rows):
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"no delivered announcement: {federation.log_tail(node_id)}")
    finally:
        await store.close()


async def _receipt_key(federation: Federation, sender: str, message_id: uuid.UUID) -> str:
    """The key id that signed the receipt of message_id, once it has one."""
    store = await federation.store(sender)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = await store.get_outbox(message_id)
            if found is not None and found[2] is not None:
                receipt = envelope.Receipt.FromString(bytes(found[2]))
                return envelope.ReceiptBody.FromString(receipt.body).receiver_key_id
            await asyncio.sleep(0.1)
        raise AssertionError(f"{message_id} has no receipt: {federation.log_tail(sender)}")
    finally:
        await store.close()


async def _keyring(federation: Federation, node_id: str) -> Keyring:
    store = await federation.store(node_id)
    try:
        keyring = keyring_from_config(federation.config(node_id))
        await learn_recorded(keyring, store)
    finally:
        await store.close()
    return keyring


async def _check_direction(
    federation: Federation, sender: str, recipient: str, sent: list[uuid.UUID]
) -> list[tuple[str, str, str]]:
    """Every sent message delivered once with a receipt that verifies under the recipient's
    keys as the sender now holds them; (sender key id, recipient key id, receipt key id) of
    each, in sending order."""
    sender_store = await federation.store(sender)
    recipient_store = await federation.store(recipient)
    sender_keys = await _keyring(federation, sender)
    used: list[tuple[str, str, str]] = []
    try:
        inbox = await recipient_store.list_inbox(sender=sender, limit=10 * len(sent))
        assert sorted(row.message_id for row in inbox) == sorted(sent)
        for message_id in sent:
            found = await sender_store.get_outbox(message_id)
            assert found is not None
            row, data, receipt = found
            assert row.state == "delivered", (row.state, row.last_error)
            assert receipt is not None
            assert data is not None
            facts = verify_receipt(
                bytes(receipt),
                receiver=recipient,
                receiver_keys=sender_keys.peer_keys(recipient),
                envelope_data=data,
            )
            assert facts.accepted
            header = parse_header(data)[1]
            used.append((header.sender_key_id, header.recipient_key_id, facts.receiver_key_id))
    finally:
        await sender_store.close()
        await recipient_store.close()
    return used


async def test_a_key_rotates_while_messages_flow_both_ways_and_none_is_lost(
    federation: Federation,
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    for node_id in (POLICE, RATANAKIRI):
        federation.start(node_id)
    for node_id in (POLICE, RATANAKIRI):
        await federation.wait_ready(node_id)

    outward = asyncio.create_task(_flow(federation, POLICE, RATANAKIRI, "out"))
    inward = asyncio.create_task(_flow(federation, RATANAKIRI, POLICE, "in"))
    await asyncio.sleep(0.5)
    printed = await _rotate(federation, POLICE)
    new_key = next(key.id for key in federation.config(POLICE).keys if key.id != "k1")
    assert f"added {new_key}" in printed
    sent_out, sent_in = await asyncio.gather(outward, inward)

    # Once the peer has the announcement, the new key is used both ways.
    await _announcement_delivered(federation, POLICE, RATANAKIRI)
    # The node learns of the acceptance at its next rollover round (REFRESH_INTERVAL): until
    # then it still signs receipts for Ratanakiri with k1. Messages keep flowing meanwhile.
    deadline = time.monotonic() + 30
    while True:
        sent_in.append(await _send(federation, RATANAKIRI, POLICE, f"probe-{len(sent_in)}"))
        if await _receipt_key(federation, RATANAKIRI, sent_in[-1]) == new_key:
            break
        assert time.monotonic() < deadline, "police never signed a receipt with its new key"
    sent_out += [await _send(federation, POLICE, RATANAKIRI, f"after-{n}") for n in range(3)]
    sent_in += [await _send(federation, RATANAKIRI, POLICE, f"after-{n}") for n in range(3)]
    await federation.wait_delivered(POLICE, len(sent_out) + 1)
    await federation.wait_delivered(RATANAKIRI, len(sent_in))

    out_keys = await _check_direction(federation, POLICE, RATANAKIRI, sent_out)
    in_keys = await _check_direction(federation, RATANAKIRI, POLICE, sent_in)
    # Police signs with the new key from the peer's acceptance on, Ratanakiri seals to it and
    # police signs its receipts with it; before, k1 throughout.
    assert out_keys[-3:] == [(new_key, "k1", "k1")] * 3
    assert in_keys[-3:] == [("k1", new_key, new_key)] * 3
    assert {keys[0] for keys in out_keys} <= {"k1", new_key}
    config = federation.config(POLICE)
    ends = {key.id: key.valid_until for key in config.keys}
    assert ends["k1"] - config.keys[1].valid_from == timedelta(hours=1)

    ratanakiri = await federation.store(RATANAKIRI)
    try:
        recorded = await ratanakiri.recorded_peer_keys()
        assert {(item.peer, item.key.key_id) for item in recorded} >= {(POLICE, new_key)}
        # Status and metrics count the rolled-over keys: police's k1 ends within the hour.
        health = await node_health(federation.config(RATANAKIRI), ratanakiri, datetime.now(UTC))
        police_keys = {k.key_id: k.days_left for k in health.keys if k.owner == POLICE}
        assert police_keys == {"k1": 0, new_key: 364}
        actions = [row.action for row in await ratanakiri.list_audit(limit=1000)]
        assert "peer.keys_announced" in actions
        assert (await ratanakiri.verify_audit()).intact
    finally:
        await ratanakiri.close()


OLD = OwnKeyPair.generate(
    "k0",
    KeyValidity(datetime.now(UTC) - timedelta(days=20), datetime.now(UTC) - timedelta(hours=1)),
)
IMPOSTOR = OwnKeyPair.generate("k1", KEY_VALIDITY)
STRANGER = OwnKeyPair.generate(
    "k9", KeyValidity(datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=9))
)


@pytest.mark.parametrize(
    ("signer", "created_ago", "reason"),
    [
        # Ended an hour ago, dated back into its window: valid at created, not now.
        (OLD, timedelta(hours=2), "key_not_current"),
        # A key the peer never held.
        (STRANGER, timedelta(0), "unknown_key"),
        # Police's current key id, another key behind it.
        (IMPOSTOR, timedelta(0), "bad_signature"),
    ],
    ids=["ended-key-backdated", "unknown-key", "forged-current-key"],
)
async def test_an_announcement_not_signed_by_a_current_key_is_refused_and_nothing_recorded(
    federation: Federation, signer: OwnKeyPair, created_ago: timedelta, reason: str
) -> None:
    await federation.add(POLICE, RATANAKIRI)
    old_public = OLD.public()
    federation.write_config(
        RATANAKIRI,
        extra_peer_keys={
            POLICE: [
                PeerKeyConfig(
                    id=old_public.key_id,
                    signing_public_key=old_public.signing_public,
                    encryption_public_key=old_public.encryption_public,
                    valid_from=old_public.validity.valid_from,
                    valid_until=old_public.validity.valid_until,
                )
            ]
        },
    )
    federation.start(RATANAKIRI)
    await federation.wait_ready(RATANAKIRI)
    ratanakiri_public = federation.keyring(RATANAKIRI).own_public_keys()
    forger = Keyring(POLICE, [signer], {RATANAKIRI: ratanakiri_public})
    intruder = OwnKeyPair.generate(
        "k2", KeyValidity(datetime.now(UTC), datetime.now(UTC) + timedelta(days=365))
    )
    sealed = seal_announcement(
        forger,
        recipient=RATANAKIRI,
        keys=[intruder.public()],
        now=datetime.now(UTC) - created_ago,
        ttl=timedelta(days=20),
    )
    body = envelope.EnvelopeBatch(envelopes=[sealed.data]).SerializeToString()
    connector = aiohttp.TCPConnector(ssl=federation.client_ssl(as_node=POLICE))
    url = f"https://127.0.0.1:{federation.nodes[RATANAKIRI].federation_port}{ENVELOPES_PATH}"
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(
            url, data=body, headers={"Content-Type": PROTOBUF, SENDER_HEADER: POLICE}
        ) as response,
    ):
        assert response.status == 200
        answer = envelope.ReceiptBatch.FromString(await response.read())
    facts = verify_receipt(
        answer.receipts[0].SerializeToString(),
        receiver=RATANAKIRI,
        receiver_keys=ratanakiri_public,
        envelope_data=sealed.data,
    )
    assert (facts.accepted, facts.reason_code) == (False, reason)

    store = await federation.store(RATANAKIRI)
    try:
        assert await store.recorded_peer_keys() == []
        assert await store.find_key_announcements(POLICE, [sealed.header.message_id]) == {}
        assert "peer.keys_announced" not in [row.action for row in await store.list_audit()]
    finally:
        await store.close()

"""A peer's side of an attachment, done as the protocol says (docs/PROTOCOL.md 7): encrypt the
stream, push it through the receiver's real federation endpoint (PUT, 7.4), then post an
envelope whose sealed payload carries its AttachmentKey."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp

from gateway.crypto import encrypt_attachment, seal
from gateway.federation.attachments import ATTACHMENTS_PATH
from gateway.federation.server import SENDER_HEADER
from gateway.wire import Kind, canonical, envelope, uuid7
from tests.federation.attack import post_batch
from tests.federation.harness import Federation

PIECE = 8 * 1024 * 1024


def encrypted(
    plaintext: bytes, media_type: str, attachment_id: str | None = None
) -> tuple[bytes, envelope.AttachmentKey]:
    """The stream and its key, as a sender makes them."""
    sink = io.BytesIO()
    key = encrypt_attachment(
        io.BytesIO(plaintext),
        sink,
        attachment_id=attachment_id or str(uuid.uuid4()),
        media_type=media_type,
    )
    return sink.getvalue(), key


async def push(
    federation: Federation,
    sender: str,
    receiver: str,
    attachment_id: str,
    stream: bytes,
    *,
    upto: int | None = None,
) -> None:
    """PUT the stream (its first `upto` bytes only, when given) in pieces of PIECE bytes."""
    end = len(stream) if upto is None else upto
    url = (
        f"https://127.0.0.1:{federation.nodes[receiver].federation_port}"
        f"{ATTACHMENTS_PATH.replace('{attachment_id}', attachment_id)}"
    )
    connector = aiohttp.TCPConnector(ssl=federation.client_ssl(as_node=sender))
    async with aiohttp.ClientSession(connector=connector) as session:
        for first in range(0, end, PIECE):
            piece = stream[first : min(first + PIECE, end)]
            headers = {
                SENDER_HEADER: sender,
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {first}-{first + len(piece) - 1}/{len(stream)}",
                "Content-Length": str(len(piece)),
            }
            async with session.put(url, data=io.BytesIO(piece), headers=headers) as answer:
                assert answer.status == 200, await answer.text()


async def post_with_attachments(
    federation: Federation,
    sender: str,
    receiver: str,
    message: canonical.Message,
    keys: list[envelope.AttachmentKey],
) -> uuid.UUID:
    """Seal message with keys as sender and post it to receiver's federation endpoint; the
    message id, once the receiver answered with an accepting receipt."""
    case = uuid.UUID(message.case_id) if message.case_id else uuid.uuid4()
    message.case_id = str(case)
    now = datetime.now(UTC)
    sealed = seal(
        federation.keyring(sender),
        recipient=receiver,
        kind=Kind(message.WhichOneof("body") or ""),
        case_id=case,
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=message.SerializeToString(), attachments=keys),
        created_at=now - timedelta(seconds=1),
        expires_at=now + timedelta(days=1),
    )
    batch = envelope.EnvelopeBatch(envelopes=[sealed.data]).SerializeToString()
    async with aiohttp.ClientSession() as session:
        answer = await post_batch(session, federation, receiver, sender, batch)
    assert answer.status == 200, answer.body
    [receipt] = envelope.ReceiptBatch.FromString(answer.body).receipts
    body = envelope.ReceiptBody.FromString(receipt.body)
    assert body.status == envelope.RECEIPT_STATUS_ACCEPTED, body.reason_code
    return sealed.header.message_id

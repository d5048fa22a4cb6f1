"""What an attacker who can reach a federation endpoint sends, for the abuse tests.

Only to 127.0.0.1, and only the processes of a test's own Federation.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp

from gateway.crypto import Keyring, OwnKeyPair, seal
from gateway.federation.server import ENVELOPES_PATH, PROTOBUF, SENDER_HEADER
from gateway.wire import Kind, envelope, uuid7
from tests.federation.harness import KEY_VALIDITY, Federation

# The largest body a receiver accepts by default (limits.max_batch_bytes), less a little.
MAX_BODY = 16 * 1024**2 - 64


def empty_envelopes(body_bytes: int = MAX_BODY) -> bytes:
    """A batch of as many empty envelopes as fit: two bytes each."""
    return b"\x0a\x00" * (body_bytes // 2)


def junk_envelopes(count: int, size: int = 100) -> bytes:
    return envelope.EnvelopeBatch(
        envelopes=[bytes([n % 251]) * size for n in range(count)]
    ).SerializeToString()


def forged_envelopes(
    federation: Federation, claimed: str, recipient: str, *, count: int, size: int
) -> bytes:
    """Envelopes with well-formed headers naming `claimed`, signed by a key it never
    published: they pass every check up to the signature, which costs the most."""
    public = federation.nodes[recipient].key.public()
    keyring = Keyring(claimed, [OwnKeyPair.generate("k1", KEY_VALIDITY)], {recipient: [public]})
    now = datetime.now(UTC)
    sealed = seal(
        keyring,
        recipient=recipient,
        kind=Kind.HOTLINE_ALERT,
        case_id=uuid.uuid4(),
        message_id=uuid7(),
        payload=envelope.SealedPayload(message=b"x" * size),
        created_at=now,
        expires_at=now + timedelta(days=1),
    )
    return envelope.EnvelopeBatch(envelopes=[sealed.data] * count).SerializeToString()


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    retry_after: str | None
    seconds: float

    def code(self) -> str:
        error: str = json.loads(self.body)["error"]["code"]
        return error


async def post_batch(
    session: aiohttp.ClientSession,
    federation: Federation,
    node: str,
    claimed: str,
    body: bytes,
    timeout: float = 30,
) -> Answer:
    started = time.monotonic()
    async with session.post(
        f"https://127.0.0.1:{federation.nodes[node].federation_port}{ENVELOPES_PATH}",
        # A file-like body is streamed in chunks; raw bytes would be written in one piece.
        data=io.BytesIO(body),
        headers={"Content-Type": PROTOBUF, SENDER_HEADER: claimed},
        # The claimed peer's own certificate: the attacker is a peer gone bad, since mutual
        # TLS keeps everyone else out before any of this.
        ssl=federation.client_ssl(claimed),
        timeout=aiohttp.ClientTimeout(total=timeout),
    ) as response:
        payload = await response.read()
        return Answer(
            response.status,
            payload,
            response.headers.get("Retry-After"),
            time.monotonic() - started,
        )

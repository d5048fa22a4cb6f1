"""Step 8 of docs/PROTOCOL.md 8.2: an opened envelope's attachments, checked before it is
stored.

For each AttachmentKey of the payload, the stream (sender, attachment_id) the sender pushed
beforehand (7.4) must be held whole (else `attachment_incomplete`: retryable, the sender
pushes it and sends the envelope again), must have the key's ciphertext_sha256 and must pass
the checks of 7.3 (else `attachment_mismatch`). The decryption runs in a worker thread,
piece by piece, and its plaintext is discarded: the stream stays stored encrypted, now
'verified', and a reader decrypts it again (attachview). A stream verified once (a resend of
the envelope) is not decrypted again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Executor

from gateway.crypto import RejectReason
from gateway.crypto.attachment import AttachmentInvalid
from gateway.federation.streams import verify
from gateway.ops.logs import fields
from gateway.store import Store
from gateway.store.attachments import AttachmentKeyRef
from gateway.wire import envelope

log = logging.getLogger(__name__)


async def check_attachments(
    store: Store,
    sender: str,
    keys: Sequence[envelope.AttachmentKey],
    executor: Executor | None = None,
) -> RejectReason | None:
    """None when every stream is held, matches and decrypts; else the reason to refuse."""
    for key in keys:
        ref = AttachmentKeyRef(sender, "incoming", key.attachment_id)
        progress = await store.attachment_progress(ref)
        if progress is None or progress.state == "receiving":
            return RejectReason.ATTACHMENT_INCOMPLETE
        if progress.stream_sha256 != key.ciphertext_sha256:
            return RejectReason.ATTACHMENT_MISMATCH
        if progress.state == "verified":
            continue
        try:
            await verify(store, ref, key, executor)
        except AttachmentInvalid as invalid:
            log.info(
                "attachment_refused",
                extra=fields(peer=sender, attachment=key.attachment_id, reason=invalid.reason),
            )
            return RejectReason.ATTACHMENT_MISMATCH
        await store.verify_incoming_attachment(sender, key.attachment_id)
    return None

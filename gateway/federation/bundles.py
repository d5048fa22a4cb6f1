"""Offline bundles: carrying envelopes and their receipts on a medium when the link is down
(docs/PROTOCOL.md section 15). One service, OfflineCourier, for the CLI and the console.

Export takes a peer's pending rows (store: pending, unexpired, not already travelling
unless asked) with their attachment streams, seals them into one bundle for the peer and
records the export.
The rows stay queued: the online sender keeps trying, and the peer's (sender, message id)
deduplication stores whichever copy comes first and answers the other as a replay, so a
message is stored and delivered once whichever way, or both ways, it travels.

Import of envelopes is the federation endpoint's own path: the bundle's items go, in
batches of limits.max_envelopes_per_batch, through the same EnvelopeReceiver the endpoint
uses (sender authenticated by the bundle signature in place of the client certificate),
after the bundle's streams were stored as the attachment endpoint stores them
(bundle_streams.py),
and the receipts it answers go back in a receipts bundle. Import of receipts verifies each
receipt with the online sender's own check (sender.verify_delivery_receipt) and records
it with the online sender's recording (Store.finish_from_bundle), for rows sent to the
bundle's sender only. Nothing here decides anything the online paths do not.

Bounds: the file's size is checked before it is read (the CLI) and again here before any
work; opening (signature, decryption, parsing) and sealing run on a worker thread, never on
the event loop (a 256 MiB bundle is seconds of CPU); the item count is checked once the
bundle is open, and each batch given to the receiver is one the endpoint would admit.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from google.protobuf.message import DecodeError

from gateway.crypto import Keyring, ReceiptInvalid, parse_header
from gateway.crypto.bundle import (
    BundleKind,
    BundleLimits,
    BundleReason,
    BundleRefused,
    OpenedBundle,
    open_bundle,
    seal_bundle,
)
from gateway.crypto.envelope import EnvelopeRejected
from gateway.federation.bundle_streams import CarriedStream, gather_streams, take_streams
from gateway.federation.receiver import EnvelopeReceiver
from gateway.federation.sender import RETRYABLE_REFUSALS, verify_delivery_receipt
from gateway.ops.logs import fields
from gateway.ops.metrics import GatewayMetrics
from gateway.store import DeliveryOutcome, Store
from gateway.store.binding import OutboxStream
from gateway.store.bundles import BundleAlreadyImported, BundleImportRecord, ReceiptSubject
from gateway.wire import envelope, uuid7

__all__ = [
    "BundleReason",
    "BundleRefused",
    "ExportedBundle",
    "ImportOutcome",
    "OfflineCourier",
]

log = logging.getLogger(__name__)

# Room left in a bundle for its own framing (header, key box, nonces, tag, signature) and
# each item's length prefix: far more than they take.
_FRAMING_BYTES = 64 * 1024
_ITEM_PREFIX_BYTES = 6
_STREAM_PREFIX_BYTES = 160
# A receipt is a few hundred bytes; one past this is not one of ours to verify.
MAX_RECEIPT_BYTES = 64 * 1024
# The refusal reasons of receipts counted but not applied (not reason codes of receipts).
RECEIPT_UNKNOWN_MESSAGE = "receipt_unknown_message"


@dataclass(frozen=True)
class ExportedBundle:
    """A bundle written for a peer; data is empty when nothing was pending."""

    data: bytes = field(repr=False)
    bundle_id: str
    message_count: int
    peer: str = ""


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did. Envelopes: accepted (stored now), duplicates (stored before: a
    replay), refused per receipt reason code; receipts_bundle to carry back. Receipts:
    accepted (verified), duplicates (for rows already finished), refused per reason,
    receipted (rows this import finished)."""

    kind: str
    bundle_id: str
    sender: str
    accepted: int
    duplicates: int
    refused: dict[str, int]
    receipts_bundle: bytes | None = field(default=None, repr=False)
    receipted: int = 0


class OfflineCourier:
    """Exports a peer's pending envelopes into a bundle and imports bundles from peers."""

    def __init__(
        self,
        *,
        keyring: Keyring,
        store: Store,
        receiver: EnvelopeReceiver,
        limits: BundleLimits,
        batch_size: int,
        clock: Callable[[], datetime],
        metrics: GatewayMetrics,
        actor: str = "cli",
        max_stream_bytes: int = 0,
        stream_quota: int | None = None,
    ) -> None:
        # Bounds on the attachment streams an imported bundle carries: the attachment
        # endpoint's own (0: this node takes no streams).
        self._max_stream_bytes = max_stream_bytes
        self._stream_quota = stream_quota
        self._keyring = keyring
        self._store = store
        self._receiver = receiver
        self._limits = limits
        self._batch_size = max(1, batch_size)
        self._clock = clock
        self._metrics = metrics
        self._actor = actor

    # --- export -----------------------------------------------------------------------

    async def export(self, peer: str, *, include_exported: bool = False) -> ExportedBundle:
        """A bundle of peer's pending envelopes, recorded as travelling; BundleRefused
        (bundle_misaddressed) when peer is not a configured peer."""
        if not self._keyring.is_peer(peer):
            raise BundleRefused(BundleReason.MISADDRESSED, f"{peer!r} is not a configured peer")
        now = self._clock()
        rows = await self._store.bundle_export_candidates(
            peer, now, include_exported=include_exported, limit=self._limits.max_bundle_items
        )
        streams: dict[int, list[OutboxStream]] = {}
        for stream in await self._store.outbox_streams([row.queue_position for row in rows]):
            streams.setdefault(stream.outbox_id, []).append(stream)
        budget = self._limits.max_bundle_bytes - _FRAMING_BYTES
        taken: list[bytes] = []
        carried: list[OutboxStream] = []
        ids: list[uuid.UUID] = []
        for row in rows:
            own = sorted(streams.get(row.queue_position, ()), key=lambda s: s.position)
            budget -= len(row.envelope) + _ITEM_PREFIX_BYTES
            budget -= sum(stream.length + _STREAM_PREFIX_BYTES for stream in own)
            if budget < 0 or len(carried) + len(own) > self._limits.max_bundle_items:
                break  # the rest go in the next bundle
            taken.append(row.envelope)
            carried += own
            ids.append(row.message_id)
        if not ids:
            return ExportedBundle(b"", "", 0, peer)
        # A stream two messages name (never: one per recipient and message) goes once.
        unique = list({stream.attachment_id: stream for stream in carried}.values())
        gathered = await gather_streams(self._store, unique)
        bundle_id = uuid7()
        try:
            data = await asyncio.to_thread(
                seal_bundle,
                self._keyring,
                recipient=peer,
                kind=BundleKind.ENVELOPES,
                items=taken,
                bundle_id=bundle_id,
                created_at=now,
                streams=[(stream.attachment_id, stream.data) for stream in gathered],
            )
        except ValueError as error:  # no key valid now on either side
            raise BundleRefused(BundleReason.MISADDRESSED, str(error)) from None
        await self._store.record_bundle_export(bundle_id, peer, ids, self._actor)
        self._metrics.bundles_exported.labels(peer).inc()
        log.info("bundle_exported", extra=fields(peer=peer, bundle=str(bundle_id), count=len(ids)))
        return ExportedBundle(data, str(bundle_id), len(ids), peer)

    # --- import -----------------------------------------------------------------------

    async def import_bundle(self, data: bytes) -> ImportOutcome:
        """Import a bundle addressed to this node; BundleRefused when refused whole."""
        try:
            return await self._import(data)
        except BundleRefused as refused:
            self._metrics.bundles_refused.labels(refused.code.value).inc()
            log.warning("bundle_refused", extra=fields(reason=refused.code.value))
            raise

    async def _import(self, data: bytes) -> ImportOutcome:
        if len(data) > self._limits.max_bundle_bytes:
            # Checked here too, before a thread is given the work.
            raise BundleRefused(
                BundleReason.TOO_LARGE,
                f"the file is {len(data)} bytes; limits.max_bundle_bytes is "
                f"{self._limits.max_bundle_bytes}",
            )
        opened = await asyncio.to_thread(open_bundle, self._keyring, data, limits=self._limits)
        if await self._store.bundle_imported(opened.sender, opened.bundle_id):
            raise _replayed(opened)
        if opened.kind is BundleKind.ENVELOPES:
            outcome = await self._import_envelopes(opened)
        else:
            outcome = await self._import_receipts(opened)
        self._metrics.bundles_imported.labels(opened.sender, opened.kind.label).inc()
        log.info(
            "bundle_imported",
            extra=fields(
                peer=opened.sender,
                bundle=str(opened.bundle_id),
                kind=opened.kind.label,
                accepted=outcome.accepted,
                duplicates=outcome.duplicates,
                refused=sum(outcome.refused.values()),
            ),
        )
        return outcome

    async def _import_envelopes(self, opened: OpenedBundle) -> ImportOutcome:
        sender, items = opened.sender, list(opened.items)
        # The streams first, as a sender pushes them before the envelopes (7.4); one not
        # taken leaves its envelope refused attachment_incomplete below.
        streams_refused = await take_streams(
            self._store,
            sender,
            [CarriedStream(attachment_id, data) for attachment_id, data in opened.streams],
            max_stream_bytes=self._max_stream_bytes,
            quota=self._stream_quota,
            clock=self._clock,
        )
        receipts: list[bytes] = []
        duplicates = 0
        for start in range(0, len(items), self._batch_size):
            chunk = items[start : start + self._batch_size]
            seen = await self._stored_before(sender, chunk)
            answered = await self._receiver.receive(sender, chunk)
            receipts += answered
            duplicates += sum(
                1 for index, receipt in enumerate(answered) if index in seen and _accepted(receipt)
            )
        refused = Counter(code for code in map(_refusal, receipts) if code is not None)
        accepted = len(receipts) - sum(refused.values()) - duplicates
        for code, count in streams_refused.items():
            refused[f"stream_{code}"] += count
        back = await asyncio.to_thread(
            seal_bundle,
            self._keyring,
            recipient=sender,
            kind=BundleKind.RECEIPTS,
            items=receipts,
            bundle_id=uuid7(),
            created_at=self._clock(),
        )
        record = BundleImportRecord(
            sender, opened.bundle_id, "envelopes", len(items), accepted, sum(refused.values())
        )
        try:
            await self._store.record_bundle_import(record, self._actor)
        except BundleAlreadyImported:
            # Another import of this file ran beside this one: its envelopes were replays
            # here (nothing stored twice); the bundle counts as that one's.
            raise _replayed(opened) from None
        return ImportOutcome(
            kind="envelopes",
            bundle_id=str(opened.bundle_id),
            sender=sender,
            accepted=accepted,
            duplicates=duplicates,
            refused=dict(refused),
            receipts_bundle=back,
        )

    async def _stored_before(self, sender: str, chunk: Sequence[bytes]) -> set[int]:
        """Indexes of the chunk's envelopes the inbox holds already, byte for byte (their
        receipts are the stored ones: replays, counted as duplicates)."""
        # Parsing and hashing up to a batch of 1 MiB envelopes: on a worker thread.
        named = await asyncio.to_thread(_message_ids, chunk)
        known = await self._store.find_incoming(sender, [m for m, _ in named if m is not None])
        return {
            index
            for index, (message_id, digest) in enumerate(named)
            if message_id is not None
            and message_id in known
            and known[message_id].envelope_sha256 == digest
        }

    async def _import_receipts(self, opened: OpenedBundle) -> ImportOutcome:
        peer = opened.sender
        named = await asyncio.to_thread(_receipt_message_ids, opened.items)
        subjects = await self._store.receipt_subjects(
            peer, [message_id for message_id in named if message_id is not None]
        )
        expected: dict[int, list[OutboxStream]] = {}
        for stream in await self._store.outbox_streams(
            [subject.queue_position for subject in subjects.values()]
        ):
            expected.setdefault(stream.outbox_id, []).append(stream)
        hashes = {
            outbox_id: tuple(s.ciphertext_sha256 for s in sorted(own, key=lambda s: s.position))
            for outbox_id, own in expected.items()
        }
        verified, refused = await asyncio.to_thread(
            self._verify_receipts, peer, opened.items, named, subjects, hashes
        )
        # A row finished already (online, or by an earlier bundle) keeps its outcome; "not
        # yet" refusals leave the row queued, as the online sender does.
        pending = [o for o in verified if subjects[o.message_id].state in ("queued", "sending")]
        applicable = [o for o in pending if o.accepted or o.reason_code not in RETRYABLE_REFUSALS]
        deferred = [
            o.message_id for o in pending if not o.accepted and o.reason_code in RETRYABLE_REFUSALS
        ]
        record = BundleImportRecord(
            peer,
            opened.bundle_id,
            "receipts",
            len(opened.items),
            len(verified),
            sum(refused.values()),
        )
        try:
            done = await self._store.finish_from_bundle(
                record,
                applicable,
                self._actor,
                answered=deferred,
            )
        except BundleAlreadyImported:
            raise _replayed(opened) from None
        delivered = sum(1 for outcome in done if outcome.accepted)
        if delivered:
            self._metrics.deliveries.labels(peer, "delivered").inc(delivered)
        if len(done) > delivered:
            self._metrics.deliveries.labels(peer, "rejected").inc(len(done) - delivered)
        return ImportOutcome(
            kind="receipts",
            bundle_id=str(opened.bundle_id),
            sender=peer,
            accepted=len(verified),
            duplicates=len(verified) - len(pending),
            refused=refused,
            receipted=len(done),
        )

    def _verify_receipts(
        self,
        peer: str,
        receipts: Sequence[bytes],
        named: Sequence[uuid.UUID | None],
        subjects: dict[uuid.UUID, ReceiptSubject],
        attachments: dict[int, tuple[bytes, ...]],
    ) -> tuple[list[DeliveryOutcome], dict[str, int]]:
        """On a worker thread: each receipt verified as the online sender verifies it."""
        verified: list[DeliveryOutcome] = []
        refused: Counter[str] = Counter()
        for receipt, message_id in zip(receipts, named, strict=True):
            subject = subjects.get(message_id) if message_id is not None else None
            if subject is None:
                refused[RECEIPT_UNKNOWN_MESSAGE] += 1
                continue
            try:
                verified.append(
                    verify_delivery_receipt(
                        self._keyring,
                        peer=peer,
                        node_id=self._keyring.node_id,
                        message_id=subject.message_id,
                        envelope=subject.envelope,
                        receipt=receipt,
                        attachments=attachments.get(subject.queue_position, ()),
                    )
                )
            except ReceiptInvalid as invalid:
                refused[invalid.reason] += 1
        return verified, dict(refused)


def _replayed(opened: OpenedBundle) -> BundleRefused:
    return BundleRefused(
        BundleReason.REPLAYED, f"bundle {opened.bundle_id} from {opened.sender} was imported before"
    )


def _message_ids(chunk: Sequence[bytes]) -> list[tuple[uuid.UUID | None, bytes]]:
    """Each envelope's message id (None when its header does not parse) and SHA-256."""
    named: list[tuple[uuid.UUID | None, bytes]] = []
    for data in chunk:
        try:
            message_id: uuid.UUID | None = parse_header(data)[1].message_id
        except EnvelopeRejected:
            message_id = None
        named.append((message_id, hashlib.sha256(data).digest()))
    return named


def _receipt_body(receipt: bytes) -> envelope.ReceiptBody | None:
    """The body of a receipt, unverified (verification follows), or None."""
    if len(receipt) > MAX_RECEIPT_BYTES:
        return None
    try:
        body = envelope.ReceiptBody.FromString(envelope.Receipt.FromString(receipt).body)
    except DecodeError:
        return None
    return body


def _receipt_message_ids(receipts: Sequence[bytes]) -> list[uuid.UUID | None]:
    ids: list[uuid.UUID | None] = []
    for receipt in receipts:
        body = _receipt_body(receipt)
        ids.append(
            uuid.UUID(bytes=body.message_id)
            if body is not None and len(body.message_id) == 16
            else None
        )
    return ids


def _accepted(receipt: bytes) -> bool:
    body = _receipt_body(receipt)
    return body is not None and body.status == envelope.RECEIPT_STATUS_ACCEPTED


def _refusal(receipt: bytes) -> str | None:
    """The reason code of a receipt this node signed, None for an acceptance."""
    body = _receipt_body(receipt)
    if body is None:
        return "receipt_malformed"
    return None if body.status == envelope.RECEIPT_STATUS_ACCEPTED else body.reason_code

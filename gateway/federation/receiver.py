"""Verifying, deduplicating and storing a batch of incoming envelopes.

The per-envelope work (parsing headers, opening envelopes, signing receipts) runs on a thread
pool, never on the event loop: the loop also serves every other peer, the local API and
/healthz, and a batch of 100 envelopes of 1 MiB costs a good fraction of a second of CPU.
PyNaCl calls libsodium through cffi, which releases the GIL, so the pool's threads also run
crypto in parallel with the loop. The work per request is bounded by the endpoint, which
admits at most `limits.max_envelopes_per_batch` envelopes and `max_batch_bytes` bytes, and
the number of requests by the listener's body budget (`max_body_bytes_in_flight`). Within
that, at most `concurrent_batches` batches are worked on at once and the others wait their
turn in arrival order: the pool's queue holds the work of a few batches, never of every
request a peer (or an attacker holding a peer's certificate) has open, and a batch that got
its turn is not slowed down by each later arrival taking a share of the threads. Each
envelope is parsed once: the header check's parse is reused to open it.

Control envelopes (kind >= 100: key announcements, acknowledgements, cancellation
confirmations) come through here like
messages and are answered alike, but are read and recorded by the handler of their kind
(gateway.federation.controls), never in the inbox; a handler's record step may still refuse
one (an acknowledgement of a message that did not go to its sender), answered with a signed
rejection. After key announcements, `refresh_keys` brings the node's keyring up to date. It
is also called before a batch naming a key the keyring lacks is judged, so a replica that
has not had its rollover round since another one recorded or loaded the key does not
refuse it.

A cancellation (gateway.federation.cancellation) is a message, stored like any other; it is
applied in the transaction that stores it (Store.store_incoming), which also queues its
confirmation, sealed here (`_seal_confirmation`).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime, timedelta

from google.protobuf.message import DecodeError

from gateway.crypto import (
    EnvelopeHeader,
    EnvelopeLimits,
    EnvelopeRejected,
    Keyring,
    OpenedEnvelope,
    RejectReason,
    open_parsed,
    parse_header,
    sign_receipt,
)
from gateway.federation.cancellation import seal_confirmation
from gateway.federation.controls import ControlHandler, ControlItem, control_handlers
from gateway.federation.incoming_attachments import check_attachments
from gateway.ops.logs import fields
from gateway.ops.metrics import GatewayMetrics
from gateway.store import (
    IncomingEnvelope,
    LinkedAttachment,
    OutgoingEnvelope,
    Store,
    StoredIncoming,
)
from gateway.store.cancellations import AppliedCancellation
from gateway.wire import ControlKind, canonical, envelope

# An envelope as parse_header returns it: the wire message and its checked header.
_Parsed = tuple[envelope.Envelope, EnvelopeHeader]

log = logging.getLogger(__name__)

# Markings a local client gets whatever its victim_protected setting; anything else
# (victim_protected, or unknown: None) only clients configured to hold victims' data.
UNPROTECTED_MARKINGS = frozenset({"normal", "restricted"})


@dataclass(frozen=True)
class _Accepted:
    index: int
    incoming: IncomingEnvelope
    # The AttachmentKeys of an envelope, for step 8 (attachments) before it is stored.
    keys: tuple[envelope.AttachmentKey, ...] = ()


@dataclass(frozen=True)
class _ControlAccepted:
    index: int
    kind: ControlKind
    item: ControlItem


class EnvelopeReceiver:
    """Turns a batch of envelopes from one peer into one signed receipt per envelope."""

    def __init__(
        self,
        *,
        keyring: Keyring,
        store: Store,
        limits: EnvelopeLimits,
        receivable_kinds: Mapping[str, frozenset[str]],
        clock: Callable[[], datetime],
        metrics: GatewayMetrics,
        crypto: Executor | None = None,
        local_recipients: Mapping[str, tuple[str, ...]] | None = None,
        victim_protected_clients: frozenset[str] = frozenset(),
        refresh_keys: Callable[[], Awaitable[None]] | None = None,
        concurrent_batches: int = 4,
        controls: Mapping[ControlKind, ControlHandler] | None = None,
        message_ttl: timedelta = timedelta(days=7),
    ) -> None:
        # The lifetime of the cancellation confirmations sealed while storing.
        self._message_ttl = message_ttl
        # The control kinds received, by default every one this node knows.
        self._controls = (
            controls
            if controls is not None
            else control_handlers(keyring, store, refresh_keys, message_ttl)
        )
        self._turns = asyncio.Semaphore(concurrent_batches)
        self._waiting = 0
        self._refresh_keys = refresh_keys
        # None: the loop's default executor (tests); app.py passes a pool of its own.
        self._crypto = crypto
        self._local_recipients = local_recipients or {}
        self._victim_protected_clients = victim_protected_clients
        self._keyring = keyring
        self._store = store
        self._limits = limits
        self._receivable = receivable_kinds
        self._clock = clock
        self._metrics = metrics

    @property
    def waiting(self) -> int:
        """Batches received and waiting for their turn."""
        return self._waiting

    async def receive(self, claimed_sender: str, envelopes: list[bytes]) -> list[bytes]:
        """Receipts for envelopes, in order; each accepted one is durably stored first."""
        self._waiting += 1
        try:
            await self._turns.acquire()
        finally:
            self._waiting -= 1
        try:
            return await self._receive(claimed_sender, envelopes)
        finally:
            self._turns.release()

    async def _receive(self, claimed_sender: str, envelopes: list[bytes]) -> list[bytes]:
        now = self._clock()
        loop = asyncio.get_running_loop()
        receipts: list[bytes] = [b""] * len(envelopes)
        parsed = await loop.run_in_executor(
            self._crypto, self._check_headers, claimed_sender, envelopes, receipts, now
        )
        headers = {index: header for index, (_, header) in parsed.items()}
        if self._refresh_keys is not None and any(map(self._names_unknown_key, headers.values())):
            # Another process of this node may have recorded the key (an announcement) or
            # loaded it (a rotation) in the last rollover round: look before refusing.
            await self._refresh_keys()
        # One query for the whole batch: which of these did we store before?
        known = await self._store.find_incoming(
            claimed_sender, [header.message_id for header in headers.values()]
        )
        controls: dict[ControlKind, list[uuid.UUID]] = {}
        for header in headers.values():
            if isinstance(header.kind, ControlKind):
                controls.setdefault(header.kind, []).append(header.message_id)
        for kind, ids in controls.items():
            handler = self._controls.get(kind)
            if handler is not None:
                known |= await handler.find(claimed_sender, ids)
        accepted = await loop.run_in_executor(
            self._crypto,
            functools.partial(
                self._check_envelopes,
                claimed_sender,
                envelopes,
                parsed=parsed,
                known=known,
                receipts=receipts,
                now=now,
            ),
        )
        controlled = [item for item in accepted if isinstance(item, _ControlAccepted)]
        for kind in dict.fromkeys(item.kind for item in controlled):
            of_kind = [item for item in controlled if item.kind is kind]
            recorded = await self._controls[kind].record([item.item for item in of_kind], now)
            for control, outcome in zip(of_kind, recorded, strict=True):
                data = envelopes[control.index]
                if isinstance(outcome, RejectReason):
                    log.info(
                        "envelope_refused",
                        extra=fields(
                            peer=claimed_sender,
                            message_id=control.item.message_id,
                            kind=kind.value,
                            reason=outcome,
                        ),
                    )
                    receipts[control.index] = self._reject(
                        claimed_sender, data, control.item.message_id, outcome, now
                    )
                else:
                    receipts[control.index] = self._kept_receipt(
                        claimed_sender, data, control.item, outcome, now
                    )
        messages = await self._check_attachments(
            claimed_sender,
            envelopes,
            [item for item in accepted if isinstance(item, _Accepted)],
            receipts,
            now,
        )
        if messages:
            applied: list[AppliedCancellation] = []
            stored = await self._store.store_incoming(
                [item.incoming for item in messages],
                confirm=functools.partial(self._seal_confirmation, now=now),
                applied=applied,
            )
            for item, kept in zip(messages, stored, strict=True):
                receipts[item.index] = self._kept_receipt(
                    claimed_sender, envelopes[item.index], item.incoming, kept, now
                )
            for done in applied:
                for client, count in done.withdrawn.items():
                    self._metrics.local_withdrawn.labels(client).inc(count)
                log.info(
                    "cancellation_applied",
                    extra=fields(
                        peer=done.sender,
                        message_id=done.message_id,
                        case=str(done.case_id),
                        withdrawn=sum(done.withdrawn.values()),
                        confirmation=None if done.confirmation is None else str(done.confirmation),
                    ),
                )
        return receipts

    def _seal_confirmation(
        self, cancelled: IncomingEnvelope, withdrawn: int, *, now: datetime
    ) -> OutgoingEnvelope | None:
        """Inside the storing transaction: the confirmation of a cancellation (section 14)."""
        try:
            return seal_confirmation(
                self._keyring, cancelled, withdrawn=withdrawn, now=now, ttl=self._message_ttl
            )
        except ValueError:
            # No key to seal for the sender now: the cancellation is still applied; the
            # sender sees the copy receipted but not confirmed.
            log.warning(
                "cancellation_not_confirmed",
                extra=fields(
                    peer=cancelled.sender, message_id=cancelled.message_id, reason="no_key"
                ),
            )
            return None

    async def _check_attachments(
        self,
        claimed_sender: str,
        envelopes: list[bytes],
        accepted: list[_Accepted],
        receipts: list[bytes],
        now: datetime,
    ) -> list[_Accepted]:
        """Step 8 of 8.2: an envelope whose attachment streams are not held whole and
        verified is refused (its receipt says why) and not stored."""
        kept: list[_Accepted] = []
        for item in accepted:
            reason = (
                await check_attachments(self._store, claimed_sender, item.keys, self._crypto)
                if item.keys
                else None
            )
            if reason is None:
                kept.append(item)
                continue
            receipts[item.index] = self._reject(
                claimed_sender, envelopes[item.index], item.incoming.message_id, reason, now
            )
        return kept

    def _kept_receipt(
        self,
        claimed_sender: str,
        data: bytes,
        incoming: IncomingEnvelope | ControlItem,
        kept: StoredIncoming,
        now: datetime,
    ) -> bytes:
        """The receipt of a stored item: the one stored with it (a replay gets the same), or a
        refusal when another envelope with this (sender, message id) got there first."""
        if kept.envelope_sha256 != incoming.envelope_sha256:
            return self._reject(
                claimed_sender, data, incoming.message_id, RejectReason.DUPLICATE_MESSAGE_ID, now
            )
        self._metrics.received.labels(claimed_sender, "accepted").inc()
        return kept.receipt

    def _names_unknown_key(self, header: EnvelopeHeader) -> bool:
        keyring = self._keyring
        return keyring.is_peer(header.sender) and (
            keyring.peer_key(header.sender, header.sender_key_id) is None
            or keyring.own_key(header.recipient_key_id) is None
        )

    def _check_headers(
        self, claimed_sender: str, envelopes: list[bytes], receipts: list[bytes], now: datetime
    ) -> dict[int, _Parsed]:
        """On the pool: the parsed envelopes to go on with; refusals go straight into
        receipts. Each envelope is parsed here once: opening it reuses the parse."""
        parsed: dict[int, _Parsed] = {}
        for index, data in enumerate(envelopes):
            checked = self._check_header(claimed_sender, data, now)
            if isinstance(checked, bytes):
                receipts[index] = checked
            else:
                parsed[index] = checked
        return parsed

    def _check_envelopes(
        self,
        claimed_sender: str,
        envelopes: list[bytes],
        *,
        parsed: Mapping[int, _Parsed],
        known: Mapping[uuid.UUID, StoredIncoming],
        receipts: list[bytes],
        now: datetime,
    ) -> list[_Accepted | _ControlAccepted]:
        """On the pool: the verified envelopes to store; other answers go into receipts."""
        accepted: list[_Accepted | _ControlAccepted] = []
        for index, envelope_parsed in parsed.items():
            outcome = self._check_envelope(
                claimed_sender, envelopes[index], envelope_parsed, known, now
            )
            if isinstance(outcome, bytes):
                receipts[index] = outcome
            elif isinstance(outcome, IncomingEnvelope):
                accepted.append(_Accepted(index, outcome))
            elif isinstance(outcome[0], IncomingEnvelope):
                accepted.append(_Accepted(index, outcome[0], outcome[1]))
            else:
                accepted.append(_ControlAccepted(index, *outcome))
        return accepted

    def _check_header(self, claimed_sender: str, data: bytes, now: datetime) -> bytes | _Parsed:
        """A refusal to answer with at once, or the parsed envelope to go on with."""
        if len(data) > self._limits.max_envelope_bytes:
            return self._reject(claimed_sender, data, None, RejectReason.ENVELOPE_TOO_LARGE, now)
        try:
            parsed = parse_header(data)
        except EnvelopeRejected as rejected:
            return self._reject(claimed_sender, data, None, rejected.reason, now)
        header = parsed[1]
        if header.sender != claimed_sender:
            return self._reject(
                claimed_sender, data, header.message_id, RejectReason.SENDER_MISMATCH, now
            )
        return parsed

    def _check_envelope(
        self,
        claimed_sender: str,
        data: bytes,
        parsed: _Parsed,
        known: Mapping[uuid.UUID, StoredIncoming],
        now: datetime,
    ) -> (
        bytes
        | IncomingEnvelope
        | tuple[IncomingEnvelope, tuple[envelope.AttachmentKey, ...]]
        | tuple[ControlKind, ControlItem]
    ):
        """A receipt to answer with at once, or a verified envelope to store (with the keys
        of its attachments, when it has any; a control envelope: with its kind, for its
        handler)."""
        header = parsed[1]
        digest = hashlib.sha256(data).digest()
        existing = known.get(header.message_id)
        if existing is not None:
            if existing.envelope_sha256 == digest:
                self._metrics.received.labels(claimed_sender, "replay").inc()
                return existing.receipt
            return self._reject(
                claimed_sender, data, header.message_id, RejectReason.DUPLICATE_MESSAGE_ID, now
            )
        try:
            opened = open_parsed(self._keyring, data, parsed, now=now, limits=self._limits)
            if isinstance(header.kind, ControlKind):
                handler = self._controls.get(header.kind)
                if handler is None:
                    raise EnvelopeRejected(
                        RejectReason.KIND_NOT_ALLOWED, f"{header.kind.value} is not received"
                    )
                receipt = self._accept_receipt(data, header, now)
                return header.kind, handler.read(
                    opened, digest=digest, receipt=receipt, now=now, data=data
                )
            handling, cancels = self._check_content(opened)
        except EnvelopeRejected as rejected:
            log.info(
                "envelope_refused",
                extra=fields(
                    peer=claimed_sender,
                    message_id=header.message_id,
                    kind=header.kind.value,
                    reason=rejected.reason,
                ),
            )
            return self._reject(claimed_sender, data, header.message_id, rejected.reason, now)
        log.debug(
            "envelope_accepted",
            extra=fields(peer=header.sender, message_id=header.message_id, kind=header.kind.value),
        )
        recipients = self._local_recipients.get(header.kind.value, ())
        withheld: tuple[str, ...] = ()
        if handling not in UNPROTECTED_MARKINGS:
            withheld = tuple(c for c in recipients if c not in self._victim_protected_clients)
            recipients = tuple(c for c in recipients if c in self._victim_protected_clients)
            for client in withheld:
                self._metrics.local_withheld.labels(client).inc()
        keys = tuple(opened.payload.attachments)
        incoming = IncomingEnvelope(
            sender=header.sender,
            message_id=header.message_id,
            case_id=header.case_id,
            kind=header.kind.value,
            envelope=data,
            envelope_sha256=digest,
            receipt=self._accept_receipt(data, header, now, keys),
            created_at=header.created_at,
            received_at=now,
            local_recipients=recipients,
            handling=handling,
            withheld_recipients=withheld,
            cancels=cancels,
            attachments=tuple(
                LinkedAttachment(
                    position=position,
                    attachment_id=key.attachment_id,
                    ciphertext_sha256=key.ciphertext_sha256,
                    media_type=key.media_type,
                    plaintext_size=key.plaintext_size,
                )
                for position, key in enumerate(keys)
            ),
        )
        return (incoming, keys) if keys else incoming

    def _check_content(self, opened: OpenedEnvelope) -> tuple[str | None, bool]:
        """Refuse content this node does not take; else its handling marking (kept beside
        the sealed envelope, for retention; None when the sender set none) and whether it is
        a cancellation (applied when stored, section 14)."""
        header = opened.header
        if header.kind.value not in self._receivable.get(header.sender, frozenset()):
            raise EnvelopeRejected(
                RejectReason.KIND_NOT_ALLOWED, f"{header.kind.value} is not accepted from this peer"
            )
        message = canonical.Message()
        try:
            message.ParseFromString(opened.payload.message)
        except DecodeError:
            raise EnvelopeRejected(
                RejectReason.PAYLOAD_MALFORMED, "message is not a blg.v1.Message"
            ) from None
        if message.WhichOneof("body") != header.kind.value or message.case_id != str(
            header.case_id
        ):
            raise EnvelopeRejected(
                RejectReason.PAYLOAD_MISMATCH, "kind or case_id differ between header and message"
            )
        cancels = message.action == canonical.ACTION_CANCEL
        if message.handling == canonical.HANDLING_UNSPECIFIED:
            return None, cancels
        try:
            marking = canonical.Handling.Name(message.handling).removeprefix("HANDLING_").lower()
        except ValueError:
            return None, cancels  # a marking newer than this node: the strictest period applies
        return marking, cancels

    def _accept_receipt(
        self,
        data: bytes,
        header: EnvelopeHeader,
        now: datetime,
        keys: tuple[envelope.AttachmentKey, ...] = (),
    ) -> bytes:
        # Signed before step 8 (here, on the pool); used only if every stream passes it.
        return sign_receipt(
            self._keyring,
            envelope_data=data,
            message_id=header.message_id,
            sender=header.sender,
            received_at=now,
            attachment_sha256=[key.ciphertext_sha256 for key in keys],
        )

    def _reject(
        self,
        claimed_sender: str,
        data: bytes,
        message_id: uuid.UUID | None,
        reason: RejectReason,
        now: datetime,
    ) -> bytes:
        self._metrics.received.labels(claimed_sender, reason.value).inc()
        return sign_receipt(
            self._keyring,
            envelope_data=data,
            message_id=message_id,
            sender=claimed_sender,
            received_at=now,
            rejection=reason.value,
        )

"""Attachments of a submitted message: checked against the client's uploads, re-encrypted
per recipient and bound into each recipient's sealed copy (docs/PROTOCOL.md 7.2, 7.4).

A message names attachments by id in `attachment_ids` fields (a person's photos, a
handover's scanned records); the ids are the local client's own, given to its uploads
(gateway.api.uploads). At submission:

- every id must be a complete upload of THAT client (`attachment_unknown`, naming the field
  path, before anything is written: one client can neither send nor probe another's);
- for each recipient, each attachment left in its copy (policy may have removed a person)
  is re-encrypted from the upload into a new stream under a new key and a new wire id (a
  UUIDv7): 7.1 forbids a key for two recipients, and a receiver keys a complete stream for
  ever by (sender, id), so ids never repeat. The copy's ids are rewritten to the wire ids,
  and its SealedPayload carries one AttachmentKey per attachment, in order of first mention.
  The streams are linked to the outbox row in the enqueue transaction (migration 0017); a
  submission refused after re-encryption leaves streams no row names, for the retention
  sweep.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime

from google.protobuf.message import Message as ProtoMessage

from gateway.crypto import Keyring
from gateway.crypto.drafts import DraftUnreadable
from gateway.federation.streams import reencrypt, staged_key
from gateway.store import LinkedAttachment, Store
from gateway.store.attachments import AttachmentKeyRef
from gateway.store.binding import StagedAttachment
from gateway.wire import canonical, envelope, uuid7

FIELD = "attachment_ids"


def attachment_fields(message: ProtoMessage, path: str = "") -> Iterator[tuple[str, ProtoMessage]]:
    """(path, sub-message) of every sub-message with an attachment_ids field that is set."""
    for descriptor, value in message.ListFields():
        name = f"{path}.{descriptor.name}" if path else descriptor.name
        if descriptor.name == FIELD and descriptor.is_repeated:
            yield path, message
        elif descriptor.message_type is not None:
            if descriptor.is_repeated:
                for index, item in enumerate(value):
                    yield from attachment_fields(item, f"{name}[{index}]")
            else:
                yield from attachment_fields(value, name)


def attachment_refs(message: ProtoMessage) -> list[tuple[str, str]]:
    """(field path, id) of every attachment the message names, in message order."""
    refs: list[tuple[str, str]] = []
    for path, holder in attachment_fields(message):
        prefix = f"{path}.{FIELD}" if path else FIELD
        refs += [(f"{prefix}[{i}]", value) for i, value in enumerate(getattr(holder, FIELD))]
    return refs


def rewrite_ids(message: ProtoMessage, mapping: dict[str, str]) -> None:
    """Each attachment id replaced by mapping[id], in place."""
    for _, holder in attachment_fields(message):
        ids = getattr(holder, FIELD)
        renamed = [mapping[value] for value in ids]
        del ids[:]
        ids.extend(renamed)


@dataclass(frozen=True)
class UnknownAttachment:
    """The first id that is not a complete upload of the client, and where it is named."""

    field: str
    attachment_id: str


@dataclass(frozen=True)
class BoundAttachments:
    keys: list[envelope.AttachmentKey]
    links: tuple[LinkedAttachment, ...]


class AttachmentBinder:
    """Checks and binds a submission's attachments (see the module's design note)."""

    def __init__(
        self,
        *,
        store: Store,
        keyring: Keyring,
        max_attachment_bytes: int,
        executor: Executor | None = None,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._max = max_attachment_bytes
        self._executor = executor

    async def check(
        self, message: canonical.Message, client: str | None
    ) -> dict[str, StagedAttachment] | UnknownAttachment:
        """The uploads the message names, or the first it names that is not one."""
        staged: dict[str, StagedAttachment] = {}
        for path, attachment_id in attachment_refs(message):
            if attachment_id in staged:
                continue
            found = (
                None
                if client is None
                else await self._store.staged_attachment(client, attachment_id)
            )
            if found is None or not found.complete:
                return UnknownAttachment(path, attachment_id)
            staged[attachment_id] = found
        return staged

    async def bind(
        self,
        copy: canonical.Message,
        *,
        recipient: str,
        client: str | None,
        staged: dict[str, StagedAttachment],
        now: datetime,
    ) -> BoundAttachments:
        """Re-encrypt the copy's attachments for recipient and rewrite its ids in place."""
        ids = list(dict.fromkeys(value for _, value in attachment_refs(copy)))
        if not ids:
            return BoundAttachments([], ())
        assert client is not None  # check() refused ids of a submission without a client
        keys: list[envelope.AttachmentKey] = []
        links: list[LinkedAttachment] = []
        mapping: dict[str, str] = {}
        for position, attachment_id in enumerate(ids):
            upload = staged[attachment_id]
            try:
                source_key = staged_key(
                    self._keyring, upload, client=client, attachment_id=attachment_id
                )
            except DraftUnreadable as unreadable:
                raise AttachmentUnreadable(attachment_id) from unreadable
            wire_id = str(uuid7())
            key = await reencrypt(
                self._store,
                AttachmentKeyRef(client, "outgoing", attachment_id),
                source_key,
                AttachmentKeyRef(recipient, "outgoing", wire_id),
                max_plaintext=self._max,
                now=now,
                executor=self._executor,
            )
            mapping[attachment_id] = wire_id
            keys.append(key)
            links.append(
                LinkedAttachment(
                    position=position,
                    attachment_id=wire_id,
                    ciphertext_sha256=key.ciphertext_sha256,
                    media_type=key.media_type,
                    plaintext_size=key.plaintext_size,
                )
            )
        rewrite_ids(copy, mapping)
        return BoundAttachments(keys, tuple(links))


class AttachmentUnreadable(Exception):  # noqa: N818 - a verdict on stored data
    """An upload's sealed key does not open (its node key was removed): send it again."""

    def __init__(self, attachment_id: str) -> None:
        super().__init__("an uploaded attachment's key no longer opens")
        self.attachment_id = attachment_id

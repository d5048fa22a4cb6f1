"""Where local deliveries go: one class per config `type`, one narrow method each."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiohttp

from gateway.attachments_read import AttachmentReader
from gateway.delivery.delivered_attachments import AttachmentNotWritten, write_attachments
from gateway.ops.logs import fields
from gateway.ops.private_files import (
    UnsafePath,
    is_regular_file,
    private_folder,
    refuse_unless_regular_or_absent,
    sync_folder,
    write_new_private,
)
from gateway.store import PendingLocalDelivery
from gateway.wire import envelope

log = logging.getLogger(__name__)


class TargetUnavailable(Exception):  # noqa: N818 - a state of the target, not our failure
    """The target did not take the document; try again later. reason is a short code."""

    def __init__(self, reason: str, *, maybe_taken: bool = False, final: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        # The target may have the document even so (a webhook call that timed out or was
        # cut off after it was sent): the delivery stays claimed, never withdrawn.
        self.maybe_taken = maybe_taken
        # No retry can make the target take it (an attachment corrupt at rest): the
        # delivery is held aside, nothing of it having been handed over.
        self.final = final


@dataclass(frozen=True)
class Document:
    """A rendered incoming message."""

    data: bytes
    media_type: str
    extension: str
    # Id of the message this one answers (canonical in_reply_to), "" when none: native
    # formats do not hold it, so webhooks carry it in a header.
    in_reply_to: str = ""
    # The message's verified attachments (their keys): a drop folder writes each beside the
    # message file; a webhook carries none (the client downloads them by the inbox API).
    attachments: tuple[envelope.AttachmentKey, ...] = ()


class LocalTarget(Protocol):
    via: str

    async def deliver(
        self,
        delivery: PendingLocalDelivery,
        document: Document,
        record_file_name: Callable[[str], Awaitable[None]],
    ) -> None:
        """Hand the document over, or raise TargetUnavailable."""
        ...


def delivery_key(delivery: PendingLocalDelivery) -> str:
    """What identifies one delivery to a local system: message ids are the sender's, so two
    peers may use the same one; the pair is unique (the inbox's own key)."""
    return f"{delivery.sender}:{delivery.message_id}"


def webhook_signature(secret: bytes, timestamp: int, key: str, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<idempotency key>." + body>`.

    The timestamp guards against replay; the key (`<sender>:<message id>`) is signed so that
    whoever can replay a body cannot relabel it as another message or another sender's."""
    signed = f"{timestamp}.{key}.".encode() + body
    mac = hmac.new(secret, signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


class WebhookTarget:
    """POSTs each document to the client's URL, signed with its shared secret."""

    via = "webhook"

    def __init__(
        self, url: str, secret: bytes, session: aiohttp.ClientSession, timeout: float = 30.0
    ) -> None:
        self._url = url
        self._secret = secret
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def deliver(
        self,
        delivery: PendingLocalDelivery,
        document: Document,
        record_file_name: Callable[[str], Awaitable[None]],
    ) -> None:
        del record_file_name  # webhooks have no file
        key = delivery_key(delivery)
        headers = {
            "Content-Type": document.media_type,
            "Idempotency-Key": key,
            "BLG-Message-Id": str(delivery.message_id),
            "BLG-Case-Id": str(delivery.case_id),
            "BLG-Kind": delivery.kind,
            "BLG-From": delivery.sender,
            "BLG-Signature": webhook_signature(self._secret, int(time.time()), key, document.data),
        }
        if document.in_reply_to:
            headers["BLG-In-Reply-To"] = document.in_reply_to
        if delivery.case_cancelled:
            # The sender cancelled the case (docs/PROTOCOL.md section 14).
            headers["BLG-Case-State"] = "cancelled"
        try:
            async with self._session.post(
                self._url, data=document.data, headers=headers, timeout=self._timeout
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientConnectorError, ConnectionRefusedError) as error:
            # Nothing was sent: the local system certainly does not have it.
            raise TargetUnavailable(f"network: {type(error).__name__}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise TargetUnavailable(f"network: {type(error).__name__}", maybe_taken=True) from None
        if not 200 <= status < 300:
            raise TargetUnavailable(f"http_{status}")


class DropFolderTarget:
    """Writes each document into a folder: temporary name, recorded, then renamed.

    Names carry the sender as well as the message id (two peers may use the same id). Files
    are created 0600 with O_EXCL | O_NOFOLLOW; a symlink standing at either name is refused
    (counted, logged without content) and the delivery waits, never writing through it.
    A message's attachments are written first, into `<stem>.attachments/`
    (gateway.delivery.delivered_attachments), so the message file appears last."""

    via = "drop_folder"

    def __init__(
        self,
        folder: Path,
        on_unsafe: Callable[[], None] = lambda: None,
        attachments: AttachmentReader | None = None,
    ) -> None:
        self._folder = folder
        self._on_unsafe = on_unsafe
        self._attachments = attachments

    def _paths(self, delivery: PendingLocalDelivery, extension: str) -> tuple[Path, Path]:
        name = f"{delivery.kind}-{delivery.sender}-{delivery.message_id}.{extension}"
        return self._folder / name, self._folder / f".{name}.tmp"

    def _recorded_paths(self, delivery: PendingLocalDelivery) -> tuple[Path, Path]:
        name = delivery.file_name
        if not name or "/" in name or name.startswith("."):
            raise TargetUnavailable("filesystem: no usable recorded file name")
        return self._folder / name, self._folder / f".{name}.tmp"

    async def deliver(
        self,
        delivery: PendingLocalDelivery,
        document: Document,
        record_file_name: Callable[[str], Awaitable[None]],
    ) -> None:
        try:
            if delivery.delivering:
                # A crash came between recording the name and marking it done: finish from
                # the recorded name (the document is not needed, nor rendered again).
                final, temporary = self._recorded_paths(delivery)
                if is_regular_file(temporary):
                    refuse_unless_regular_or_absent(final)
                    os.replace(temporary, final)
                    sync_folder(self._folder)
                return
            final, temporary = self._paths(delivery, document.extension)
            private_folder(self._folder)
            refuse_unless_regular_or_absent(final)
            if self._attachments is not None and document.attachments:
                await write_attachments(
                    self._attachments,
                    final,
                    sender=delivery.sender,
                    message_id=delivery.message_id,
                    keys=document.attachments,
                )
            try:
                write_new_private(temporary, document.data)
            except FileExistsError:
                # Our own leftover from a crash before the name was recorded.
                temporary.unlink()
                write_new_private(temporary, document.data)
            await record_file_name(final.name)
            os.replace(temporary, final)
            sync_folder(self._folder)
        except UnsafePath as unsafe:
            self._on_unsafe()
            log.warning(
                "drop_folder_unsafe_path",
                extra=fields(
                    folder=str(self._folder),
                    file=unsafe.path.name,
                    hint="a symlink or other non-regular file holds the name",
                ),
            )
            raise TargetUnavailable("filesystem: unsafe path") from None
        except AttachmentNotWritten as missing:
            raise TargetUnavailable(f"attachment: {missing.reason}", final=missing.final) from None
        except OSError as error:
            raise TargetUnavailable(
                f"filesystem: {error.strerror or type(error).__name__}"
            ) from None

"""Where local deliveries go: one class per config `type`, one narrow method each."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import aiohttp

from gateway.store import PendingLocalDelivery


class TargetUnavailable(Exception):  # noqa: N818 - a state of the target, not our failure
    """The target did not take the document; try again later. reason is a short code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Document:
    """A rendered incoming message."""

    data: bytes
    media_type: str
    extension: str


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


def webhook_signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`: timestamped against replay."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
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
        headers = {
            "Content-Type": document.media_type,
            "Idempotency-Key": str(delivery.message_id),
            "BLG-Message-Id": str(delivery.message_id),
            "BLG-Case-Id": str(delivery.case_id),
            "BLG-Kind": delivery.kind,
            "BLG-From": delivery.sender,
            "BLG-Signature": webhook_signature(self._secret, int(time.time()), document.data),
        }
        try:
            async with self._session.post(
                self._url, data=document.data, headers=headers, timeout=self._timeout
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise TargetUnavailable(f"network: {type(error).__name__}") from None
        if not 200 <= status < 300:
            raise TargetUnavailable(f"http_{status}")


class DropFolderTarget:
    """Writes each document into a folder: temporary name, recorded, then renamed."""

    via = "drop_folder"

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def _paths(self, delivery: PendingLocalDelivery, extension: str) -> tuple[Path, Path]:
        name = f"{delivery.kind}-{delivery.message_id}.{extension}"
        return self._folder / name, self._folder / f".{name}.tmp"

    async def deliver(
        self,
        delivery: PendingLocalDelivery,
        document: Document,
        record_file_name: Callable[[str], Awaitable[None]],
    ) -> None:
        final, temporary = self._paths(delivery, document.extension)
        try:
            if delivery.delivering:
                # A crash came between recording the name and marking it done.
                if temporary.exists():
                    os.replace(temporary, final)
                    _sync_folder(self._folder)
                return
            self._folder.mkdir(parents=True, exist_ok=True)
            with temporary.open("wb") as out:
                out.write(document.data)
                out.flush()
                os.fsync(out.fileno())
            await record_file_name(final.name)
            os.replace(temporary, final)
            _sync_folder(self._folder)
        except OSError as error:
            raise TargetUnavailable(
                f"filesystem: {error.strerror or type(error).__name__}"
            ) from None


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

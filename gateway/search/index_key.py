"""The node's search index key: made on first use, opened once per process, re-sealed to the
newest own key pair after a rotation, replaced (a new generation) when it no longer opens.

See gateway.crypto.search_seal for why and how it is sealed. The indexer and the index of a
process share one IndexKey, so they agree on the generation they write and read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gateway.crypto import Keyring
from gateway.crypto.drafts import SealedDraft
from gateway.crypto.search_seal import (
    new_index_key,
    newest_own_key_id,
    open_index_key,
    seal_index_key,
)
from gateway.ops.logs import fields
from gateway.store.search_entries import SearchEntries, StoredSearchKey

log = logging.getLogger(__name__)

_ATTEMPTS = 5  # concurrent first uses by several processes settle within a few rounds


@dataclass(frozen=True, slots=True)
class OpenIndexKey:
    generation: int
    key: bytes

    def __repr__(self) -> str:
        return f"OpenIndexKey(generation={self.generation})"


class IndexKey:
    """The open key of this process, loaded lazily."""

    def __init__(
        self, *, store: SearchEntries, keyring: Keyring, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._clock = clock
        self._open: OpenIndexKey | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> OpenIndexKey:
        """The key to seal and open entries with (cached; forget() to read it again)."""
        async with self._lock:
            if self._open is None:
                self._open = await self._load()
            return self._open

    def forget(self) -> None:
        """Read the key again on next use: another process may have replaced it."""
        self._open = None

    async def _load(self) -> OpenIndexKey:
        for _ in range(_ATTEMPTS):
            stored = await self._store.search_key()
            now = self._clock()
            if stored is None:
                opened = await self._make(1, now)
            else:
                key = open_index_key(
                    self._keyring,
                    SealedDraft(stored.key_id, stored.sealed),
                    generation=stored.generation,
                )
                if key is None:
                    log.warning(
                        "search_key_unreadable",
                        extra=fields(
                            generation=stored.generation,
                            hint="its own key pair is no longer configured: a new index key "
                            "is made and every stored message is read again",
                        ),
                    )
                    opened = await self._make(stored.generation + 1, now)
                else:
                    await self._rewrap(stored, key, now)
                    opened = OpenIndexKey(stored.generation, key)
            if opened is not None:
                return opened
        raise RuntimeError("the search index key could not be settled")

    async def _make(self, generation: int, now: datetime) -> OpenIndexKey | None:
        key = new_index_key()
        sealed = seal_index_key(self._keyring, key, generation=generation, at=now)
        stored = StoredSearchKey(generation, sealed.key_id, sealed.data)
        if not await self._store.add_search_key(stored, now):
            return None  # another process made this generation: read theirs
        log.info("search_key_made", extra=fields(generation=generation))
        return OpenIndexKey(generation, key)

    async def _rewrap(self, stored: StoredSearchKey, key: bytes, now: datetime) -> None:
        newest = newest_own_key_id(self._keyring, now)
        if newest is None or newest == stored.key_id:
            return
        sealed = seal_index_key(self._keyring, key, generation=stored.generation, at=now)
        if await self._store.rewrap_search_key(stored, sealed.key_id, sealed.data):
            log.info(
                "search_key_resealed",
                extra=fields(generation=stored.generation, key_id=sealed.key_id),
            )

"""Key rollover on a running node: keeping the keyring in step with the config and database.

Two directions, one loop (`KeyRollover.run`, every couple of seconds, and at once when the
receiver has recorded an announcement or meets a key id it lacks: `check`):

- Own keys. `gateway keys rotate` adds a key to the config file while the node runs. The loop
  notices the file changed, loads it as the node would at start (a config that does not load
  is logged and ignored, the running keys stay), and compares the own keys with those last
  published (`own_keys_published`). When a key is new, or a window changed, it seals one
  announcement of every current key per peer, signed by the key the peer holds, and queues
  them with the published set in one transaction; only then does the keyring get the new
  private keys, with the new key withheld from each peer until that peer has accepted the
  announcement (its outbox row is delivered). So nothing is ever signed or sealed under a
  key a peer cannot know yet, whether it was down, slow, or refuses announcements (it then
  gets the old key until that ends: the overlap is the operator's time to import by hand).
  The first start on a database records the configured keys as published without
  announcing them: peers got those with the config.
- Peer keys. Keys recorded from announcements or imports are merged into the keyring
  (gateway.crypto.keys.merge_peer_keys), and those whose valid_from has come are marked
  active (audited once).

The crypto module never reads anything: this loop hands it keys.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from gateway.config import ConfigError, NodeConfig, load_config
from gateway.crypto import Keyring, KeyValidity, OwnKeyPair, PublicKeyPair
from gateway.federation.announcements import seal_announcement
from gateway.ops.logs import fields
from gateway.store import AuditEntry, OutgoingEnvelope, Store
from gateway.store.peer_keys import PublishedKeyRow, QueuedAnnouncement
from gateway.wire import ControlKind

log = logging.getLogger(__name__)

REFRESH_INTERVAL = timedelta(seconds=2)


def own_key_pairs(config: NodeConfig) -> list[OwnKeyPair]:
    """The crypto view of a config's own keys."""
    return [
        OwnKeyPair.from_secrets(
            key.id,
            key.signing_seed,
            key.encryption_secret,
            KeyValidity(key.valid_from, key.valid_until),
        )
        for key in config.keys
    ]


async def learn_recorded(keyring: Keyring, store: Store) -> None:
    """Give keyring the recorded peer keys and the withheld own keys of the database: what
    any process that signs or seals as this node (the node, `gateway send`) must know
    besides its config."""
    recorded: dict[str, list[PublicKeyPair]] = {}
    for item in await store.recorded_peer_keys():
        key = item.key
        recorded.setdefault(item.peer, []).append(
            PublicKeyPair(
                key.key_id,
                key.signing_public,
                key.encryption_public,
                KeyValidity(key.valid_from, key.valid_until),
            )
        )
    # A key in the config that the node has not announced yet (it has not noticed the change,
    # or is down) is withheld from everyone; a database that never saw the node announces
    # nothing, so there is nothing to wait for.
    published = {row.key_id for row in await store.own_keys_published()}
    unannounced = frozenset(
        key.key_id for key in keyring.own_public_keys() if published and key.key_id not in published
    )
    keyring.learn(recorded, await store.own_keys_withheld(), unannounced)


def _row(key: PublicKeyPair) -> PublishedKeyRow:
    return PublishedKeyRow(
        key.key_id,
        key.signing_public,
        key.encryption_public,
        key.validity.valid_from,
        key.validity.valid_until,
    )


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


class KeyRollover:
    """Announces this node's new keys and feeds the keyring recorded and withheld keys."""

    def __init__(
        self,
        *,
        config: NodeConfig,
        keyring: Keyring,
        store: Store,
        clock: Callable[[], datetime],
        interval: timedelta = REFRESH_INTERVAL,
    ) -> None:
        self._config_file = config.config_file
        self._peers = tuple(peer.id for peer in config.peers)
        self._ttl = config.retry.message_ttl
        self._keyring = keyring
        self._store = store
        self._clock = clock
        self._interval = interval
        self._stamp = _file_stamp(config.config_file)
        self._own = own_key_pairs(config)
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Before the node serves: announce what changed while it was down, load the keys."""
        async with self._lock:
            await self._publish(self._own)
            await self._refresh()

    async def run(self) -> None:
        """Until cancelled: follow the config file and the database."""
        while True:
            await asyncio.sleep(self._interval.total_seconds())
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the loop must outlive a database restart
                log.warning("key_rollover_check_failed", extra=fields(reason=type(error).__name__))

    async def check(self) -> None:
        """One round: reload own keys if the config file changed, then refresh the keyring."""
        async with self._lock:
            stamp = _file_stamp(self._config_file)
            if stamp != self._stamp:
                own = self._reload()
                if own is not None:
                    await self._publish(own)
                # Only now: a round that failed (database away) tries again at the next.
                self._stamp = stamp
            await self._refresh()

    def _reload(self) -> list[OwnKeyPair] | None:
        try:
            config = load_config(self._config_file)
        except ConfigError as error:
            # The running keys stay; `gateway config check` names the problems.
            log.warning(
                "own_keys_reload_refused",
                extra=fields(reason="config_invalid", problems=len(error.issues)),
            )
            return None
        return own_key_pairs(config)

    async def _publish(self, own: Sequence[OwnKeyPair]) -> None:
        now = self._clock()
        current = [key.public() for key in own if key.validity.valid_until > now]
        published = {row.key_id: row for row in await self._store.own_keys_published()}
        rows = [_row(key) for key in current]
        if not published:
            await self._store.publish_own_keys(rows, [], [], now)
        elif any(published.get(row.key_id) != row for row in rows):
            new_ids = tuple(row.key_id for row in rows if row.key_id not in published)
            # At a start, the keyring holds the new keys already: withhold them (as not
            # announced yet) so that the announcement is signed by a key the peers hold.
            await self._refresh()
            await self._store.publish_own_keys(
                rows, self._announcements(current, new_ids, now), self._audit(rows, new_ids), now
            )
        # The new keys are withheld (their announcements are queued, not delivered) before
        # the keyring holds them.
        await self._refresh()
        self._keyring.set_own(own)
        self._own = list(own)

    def _announcements(
        self, keys: Sequence[PublicKeyPair], new_ids: tuple[str, ...], now: datetime
    ) -> list[QueuedAnnouncement]:
        queued: list[QueuedAnnouncement] = []
        for peer in self._peers:
            try:
                sealed = seal_announcement(
                    self._keyring, recipient=peer, keys=keys, now=now, ttl=self._ttl
                )
            except ValueError:
                log.warning("key_announcement_not_sealed", extra=fields(peer=peer, reason="no_key"))
                continue
            envelope = OutgoingEnvelope(
                message_id=sealed.header.message_id,
                recipient=peer,
                case_id=sealed.header.case_id,
                kind=ControlKind.KEY_ANNOUNCEMENT.value,
                handling="normal",  # no personal data: its retention is the shortest
                envelope=sealed.data,
                envelope_sha256=sealed.sha256,
                expires_at=sealed.header.expires_at,
            )
            queued.append(QueuedAnnouncement(envelope, new_ids))
        return queued

    def _audit(self, rows: Sequence[PublishedKeyRow], new_ids: tuple[str, ...]) -> list[AuditEntry]:
        return [
            AuditEntry(
                "gateway",
                "node.keys_announced",
                self._keyring.node_id,
                {
                    "keys": ",".join(row.key_id for row in rows),
                    "new": ",".join(new_ids),
                    "peers": ",".join(self._peers),
                },
            )
        ]

    async def _refresh(self) -> None:
        await learn_recorded(self._keyring, self._store)
        for peer, key_id in await self._store.activate_due_peer_keys(self._clock()):
            log.info("peer_key_active", extra=fields(peer=peer, key=key_id))

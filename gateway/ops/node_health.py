"""The node's health figures, decided once for the console, `gateway status` and /metrics.

Three readers show the same facts (is a peer reachable, how much waits and since when, how
long keys remain valid), so each fact is decided here and only here: the console's operator
page, the `gateway status` command and the /metrics handler all call these functions, and an
alert, a dashboard panel and a terminal table cannot disagree about a peer.

Reachability is read from the destinations table (one row per peer, written by the peer's
sender after every delivery attempt), not probed: looking must not make the border link
busier, and a probe would say less than the real traffic does. A peer is
- `reachable` when its last attempt succeeded: a success is recorded and no failure came
  after it, and no retry is pending (the sender resets its failure count on success);
- `unreachable` when its last attempt failed: failures are counted, or a retry is scheduled,
  or the last failure is later than the last success;
- `unknown` when no attempt was ever made (nothing has been sent to it yet).

Key expiry is counted in whole days, rounded down (negative once past). A party's keys are
judged by the one valid longest: during a rollover the old key may end soon, and that is
fine while its successor is already configured.

Everything comes from the database and the configuration, so it works when the node is
down. Nothing here reads message content: states, counts, times, key ids and reason codes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.config import NodeConfig
from gateway.store import LocalClientSummary, PeerSummary, Store
from gateway.store.peer_keys import PublishedKeyRow, RecordedPeerKey

# The owner label of the node's own keys (peers are named by their ids).
SELF = "self"
# A party whose keys all end within this many days is flagged, by the console, `gateway status`
# and the key-expiry alerts (config/prometheus/blg-alerts.yml) alike: a new key must reach
# every peer, through their operators, before the old one ends, which takes days, not hours.
KEYS_WARNING_DAYS = 30


class Reachability(enum.StrEnum):
    REACHABLE = "reachable"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"


def reachability(summary: PeerSummary, now: datetime) -> Reachability:
    """See the module's docstring."""
    retry_pending = summary.retry_at is not None and summary.retry_at > now
    failed_last = summary.last_failure_at is not None and (
        summary.last_success_at is None or summary.last_failure_at > summary.last_success_at
    )
    if summary.failures > 0 or retry_pending or failed_last:
        return Reachability.UNREACHABLE
    if summary.last_success_at is not None:
        return Reachability.REACHABLE
    return Reachability.UNKNOWN


def days_left(valid_until: datetime | None, now: datetime) -> int | None:
    """Whole days until `valid_until` (negative once past); None when there is no expiry."""
    if valid_until is None:
        return None
    return (valid_until - now) // timedelta(days=1)


def age_seconds(since: datetime | None, now: datetime) -> float:
    """Seconds since `since` (0 when None or in the future, as after a clock step)."""
    if since is None:
        return 0.0
    return max((now - since).total_seconds(), 0.0)


@dataclass(frozen=True)
class KeyExpiry:
    """One configured key: whose (SELF or a peer id), its id, and how long it stays valid."""

    owner: str
    key_id: str
    valid_until: datetime
    days_left: int


@dataclass(frozen=True)
class PeerHealth:
    id: str
    reachability: Reachability
    pending: int
    oldest_pending_at: datetime | None
    oldest_pending_seconds: float
    failures: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    keys_days_left: int | None


@dataclass(frozen=True)
class LocalSystemHealth:
    id: str
    backlog: int
    oldest_pending_at: datetime | None
    oldest_pending_seconds: float
    head_attempts: int
    held: int


@dataclass(frozen=True)
class NodeHealth:
    node: str
    at: datetime
    peers: tuple[PeerHealth, ...]
    local_systems: tuple[LocalSystemHealth, ...]
    keys: tuple[KeyExpiry, ...]

    @property
    def own_keys_days_left(self) -> int | None:
        return _longest([key for key in self.keys if key.owner == SELF])


def _longest(keys: Sequence[KeyExpiry]) -> int | None:
    return max((key.days_left for key in keys), default=None)


def _rolled_over(
    configured: Sequence[tuple[str, datetime]], rolled: Sequence[tuple[str, datetime]]
) -> list[tuple[str, datetime]]:
    """Configured (key id, valid_until), with keys that rollover added and ends it brought
    forward (gateway.federation.rollover; a rollover never makes a key last longer)."""
    ends = dict(configured)
    for key_id, until in rolled:
        ends[key_id] = min(until, ends.get(key_id, until))
    return list(ends.items())


def key_expiries(
    config: NodeConfig,
    now: datetime,
    published: Sequence[PublishedKeyRow] = (),
    recorded: Sequence[RecordedPeerKey] = (),
) -> list[KeyExpiry]:
    """Every own key, then every peer's, in the configuration's order; published (own keys as
    the node last announced them) and recorded (peer keys announced or imported) add the
    keys of a rollover the configuration does not show yet."""
    own = [(key.id, key.valid_until) for key in config.keys]
    owned = [
        (SELF, key_id, until)
        for key_id, until in _rolled_over(own, [(k.key_id, k.valid_until) for k in published])
    ]
    for peer in config.peers:
        theirs = [(key.id, key.valid_until) for key in peer.keys]
        learned = [(r.key.key_id, r.key.valid_until) for r in recorded if r.peer == peer.id]
        owned += [(peer.id, key_id, until) for key_id, until in _rolled_over(theirs, learned)]
    return [
        KeyExpiry(owner, key_id, until, (until - now) // timedelta(days=1))
        for owner, key_id, until in owned
    ]


def delivering_clients(config: NodeConfig) -> list[str]:
    """The local systems the node pushes incoming messages to (the others have no backlog)."""
    return [client.id for client in config.local_clients if client.delivery is not None]


def peer_health(summary: PeerSummary, keys: Sequence[KeyExpiry], now: datetime) -> PeerHealth:
    return PeerHealth(
        id=summary.peer,
        reachability=reachability(summary, now),
        pending=summary.pending,
        oldest_pending_at=summary.oldest_pending,
        oldest_pending_seconds=age_seconds(summary.oldest_pending, now),
        failures=summary.failures,
        last_success_at=summary.last_success_at,
        last_failure_at=summary.last_failure_at,
        last_error=summary.last_error,
        keys_days_left=_longest([key for key in keys if key.owner == summary.peer]),
    )


def local_system_health(summary: LocalClientSummary, now: datetime) -> LocalSystemHealth:
    return LocalSystemHealth(
        id=summary.client,
        backlog=summary.backlog,
        oldest_pending_at=summary.oldest_pending,
        oldest_pending_seconds=age_seconds(summary.oldest_pending, now),
        head_attempts=summary.head_attempts,
        held=summary.held,
    )


async def node_health(config: NodeConfig, store: Store, now: datetime) -> NodeHealth:
    """The figures of every peer and local system: two queries, whatever the outbox holds,
    and two over the few rows of key rollover."""
    keys = key_expiries(
        config, now, await store.own_keys_published(), await store.recorded_peer_keys()
    )
    peers = await store.peer_summaries([peer.id for peer in config.peers])
    order = {peer.id: index for index, peer in enumerate(config.peers)}
    peers.sort(key=lambda summary: order[summary.peer])
    locals_ = await store.local_client_summaries(delivering_clients(config))
    return NodeHealth(
        node=config.node.id,
        at=now,
        peers=tuple(peer_health(summary, keys, now) for summary in peers),
        local_systems=tuple(local_system_health(summary, now) for summary in locals_),
        keys=tuple(keys),
    )

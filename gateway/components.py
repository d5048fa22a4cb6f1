"""Components built from a node's configuration, one function each: the keyring, limits,
policies, the dispatcher and the console's context.

The running node (gateway.app) and everything that acts as a node without running one (the
CLI's `send`, the demo, the benchmark, the tests) build them here, so a component is made
from configuration in one way only.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from datetime import UTC, date, datetime

from adapters import adapter_for
from gateway.attachments_read import AttachmentReader
from gateway.config import LocalizedNames, NodeConfig
from gateway.console import ConsoleContext, ConsoleSettings, PeerView
from gateway.console.i18n import LOCAL_TIME
from gateway.crypto import EnvelopeLimits, Keyring, KeyValidity, PublicKeyPair
from gateway.crypto.bundle import BundleLimits
from gateway.federation.acknowledger import Acknowledger
from gateway.federation.bundles import OfflineCourier
from gateway.federation.outgoing import Dispatcher
from gateway.federation.outgoing_attachments import AttachmentBinder
from gateway.federation.receiver import EnvelopeReceiver
from gateway.federation.rollover import own_key_pairs
from gateway.federation.sender import RetryPolicy
from gateway.federation.streams import MIN_PEER_CHUNK_BYTES, stream_length
from gateway.ops.metrics import GatewayMetrics
from gateway.policy import PeerRoute, RoutePolicy
from gateway.report.aggregate import StoreSource, build_report
from gateway.report.model import Report
from gateway.report.tally import ReportFactsTally
from gateway.search.finder import PossibleMatchFinder
from gateway.search.index import SearchIndex
from gateway.search.index_key import IndexKey
from gateway.search.indexer import SearchIndexer
from gateway.search.model import PersonIndex, PersonSearch
from gateway.store import Store


def utc_now() -> datetime:
    return datetime.now(UTC)


def keyring_from_config(config: NodeConfig) -> Keyring:
    """The crypto view of the configured keys."""
    own = own_key_pairs(config)
    peers = {
        peer.id: [
            PublicKeyPair(
                key.id,
                key.signing_public_key,
                key.encryption_public_key,
                KeyValidity(key.valid_from, key.valid_until),
            )
            for key in peer.keys
        ]
        for peer in config.peers
    }
    return Keyring(config.node.id, own, peers)


def envelope_limits(config: NodeConfig) -> EnvelopeLimits:
    return EnvelopeLimits(
        max_envelope_bytes=config.limits.max_envelope_bytes,
        max_clock_skew=config.limits.max_clock_skew,
    )


def crypto_threads() -> int:
    """One thread per core, at least two: libsodium releases the GIL, so they run in parallel,
    and more threads than cores would only add latency to every batch."""
    return max(2, os.cpu_count() or 1)


def retry_policy(config: NodeConfig) -> RetryPolicy:
    return RetryPolicy(
        initial_backoff=config.retry.initial_backoff,
        max_backoff=config.retry.max_backoff,
        batch_size=config.retry.batch_size,
    )


def route_policy(config: NodeConfig) -> RoutePolicy:
    return RoutePolicy(
        {peer.id: PeerRoute(peer.country, peer.redact) for peer in config.peers},
        config.routing,
    )


def dispatcher_for(
    config: NodeConfig,
    store: Store,
    clock: Callable[[], datetime],
    keyring: Keyring | None = None,
) -> Dispatcher:
    """keyring: the running node's (it follows key rollover); by default one from config."""
    keyring = keyring or keyring_from_config(config)
    return Dispatcher(
        keyring=keyring,
        store=store,
        sendable_kinds={peer.id: frozenset(peer.send) for peer in config.peers},
        policy=route_policy(config),
        message_ttl=config.retry.message_ttl,
        clock=clock,
        max_envelope_bytes=config.limits.max_envelope_bytes,
        attachments=AttachmentBinder(
            store=store, keyring=keyring, max_attachment_bytes=config.limits.max_attachment_bytes
        ),
        acknowledgements=config.acknowledgements,
    )


def _names(names: LocalizedNames) -> dict[str, str]:
    return {language: names.in_language(language) for language in ("vi", "km", "en")}


def _latest(validities: list[datetime]) -> datetime | None:
    return max(validities, default=None)


def console_context(
    config: NodeConfig,
    store: Store,
    clock: Callable[[], datetime],
    keyring: Keyring | None = None,
    attachments: AttachmentReader | None = None,
    *,
    bundle_courier: Callable[[str], OfflineCourier] | None = None,
    person_search: PersonSearch | None = None,
    person_index: PersonIndex | None = None,
) -> ConsoleContext:
    """What the console's pages work with (gateway/console/context.py); bundle_courier: the
    running node's couriers (by default ones over a receiver and metrics made here);
    person_search: the running node's search index (None: the search page says it is not
    available)."""
    keyring = keyring or keyring_from_config(config)
    if bundle_courier is None:
        made_keyring, metrics = keyring, GatewayMetrics()

        def bundle_courier(actor: str) -> OfflineCourier:
            return offline_courier_for(config, store, made_keyring, clock, metrics, actor=actor)

    return ConsoleContext(
        node_id=config.node.id,
        node_country=config.node.country,
        node_names=_names(config.node.names),
        settings=ConsoleSettings(
            session_idle_timeout=config.console.session_idle_timeout,
            session_lifetime=config.console.session_lifetime,
            lockout_after_failures=config.console.lockout_after_failures,
            lockout_duration=config.console.lockout_duration,
            secure_cookies=config.listen.api.tls is not None,
        ),
        store=store,
        keyring=keyring,
        dispatcher=dispatcher_for(config, store, clock, keyring),
        peers=tuple(
            PeerView(
                id=peer.id,
                country=peer.country,
                names=_names(peer.names),
                url=peer.url,
                keys_valid_until=_latest([key.valid_until for key in peer.keys]),
            )
            for peer in config.peers
        ),
        own_keys_valid_until=_latest([key.valid_until for key in config.keys]),
        local_clients=tuple(client.id for client in config.local_clients),
        clock=clock,
        attachments=attachments or AttachmentReader(store, keyring),
        acknowledger=Acknowledger(
            keyring=keyring, store=store, ttl=config.retry.message_ttl, clock=clock
        ),
        max_attachment_bytes=config.limits.max_attachment_bytes,
        bundle_courier=bundle_courier,
        max_bundle_bytes=config.limits.max_bundle_bytes,
        person_search=person_search,
        person_index=person_index,
        build_report=report_builder(config, store, keyring),
    )


def report_builder(
    config: NodeConfig, store: Store, keyring: Keyring
) -> Callable[[date, date], Awaitable[Report]]:
    """The node's report of local days [from, to] (gateway.report.aggregate), in the
    console's local time (UTC+7, as both countries keep all year)."""
    source = StoreSource(store, keyring)

    async def build(period_from: date, period_to: date) -> Report:
        return await build_report(
            source, node=config.node.id, period_from=period_from, period_to=period_to, tz=LOCAL_TIME
        )

    return build


def local_recipients(config: NodeConfig) -> dict[str, tuple[str, ...]]:
    """Per kind, the local clients that get incoming messages of that kind pushed to them."""
    found: dict[str, list[str]] = {}
    for client in config.local_clients:
        if client.delivery is None:
            continue
        carried = adapter_for(client.delivery.format).kinds
        for kind in client.kinds:
            if kind in carried:
                found.setdefault(kind.value, []).append(client.id)
    return {kind: tuple(clients) for kind, clients in found.items()}


def envelope_receiver_for(
    config: NodeConfig,
    store: Store,
    keyring: Keyring,
    clock: Callable[[], datetime],
    metrics: GatewayMetrics,
    *,
    crypto: Executor | None = None,
    refresh_keys: Callable[[], Awaitable[None]] | None = None,
) -> EnvelopeReceiver:
    """The receiver of incoming envelopes: the federation endpoint's, and offline bundles'
    (one receive path, made from configuration in one way)."""
    return EnvelopeReceiver(
        keyring=keyring,
        store=store,
        limits=envelope_limits(config),
        receivable_kinds={peer.id: frozenset(peer.receive) for peer in config.peers},
        clock=clock,
        metrics=metrics,
        crypto=crypto,
        # Two batches per thread: one in crypto while the other waits for the database.
        concurrent_batches=2 * crypto_threads(),
        local_recipients=local_recipients(config),
        victim_protected_clients=frozenset(
            client.id for client in config.local_clients if client.victim_protected
        ),
        refresh_keys=refresh_keys,
        message_ttl=config.retry.message_ttl,
    )


def bundle_limits(config: NodeConfig) -> BundleLimits:
    return BundleLimits(
        max_bundle_bytes=config.limits.max_bundle_bytes,
        max_bundle_items=config.limits.max_bundle_items,
    )


def offline_courier_for(
    config: NodeConfig,
    store: Store,
    keyring: Keyring,
    clock: Callable[[], datetime],
    metrics: GatewayMetrics,
    *,
    receiver: EnvelopeReceiver | None = None,
    actor: str = "cli",
) -> OfflineCourier:
    """Offline bundles (docs/PROTOCOL.md section 15) for the CLI and the console; receiver:
    the running node's (by default one made here, as the node makes its own)."""
    return OfflineCourier(
        keyring=keyring,
        store=store,
        receiver=receiver or envelope_receiver_for(config, store, keyring, clock, metrics),
        limits=bundle_limits(config),
        batch_size=config.limits.max_envelopes_per_batch,
        clock=clock,
        metrics=metrics,
        actor=actor,
        # The attachment endpoint's bounds (app.py): a stream of the plaintext limit at any
        # chunk size of 4 KiB or more, and the per-peer quota of streams no envelope names.
        max_stream_bytes=stream_length(config.limits.max_attachment_bytes, MIN_PEER_CHUNK_BYTES),
        stream_quota=config.limits.max_pending_attachment_bytes_per_peer,
    )


def possible_match_finder_for(store: Store, index: PersonIndex) -> PossibleMatchFinder:
    """The possible-match finder over the node's person index (gateway.search.finder): a
    batch of 100 new people at a time, 20 candidates each, polled every 2 s between
    wake-ups. No configuration of its own: the bounds keep one batch to a few hundred
    index lookups, and the rules (gateway.search.matching) are the same on every node."""
    return PossibleMatchFinder(index=index, store=store, batch=100, candidates=20, poll=2.0)


def search_index_for(
    store: Store,
    keyring: Keyring,
    clock: Callable[[], datetime],
    *,
    crypto: Executor | None = None,
    matching: Executor | None = None,
) -> tuple[SearchIndex, SearchIndexer]:
    """The search index (gateway/search) and the worker that fills it, sharing one index
    key. crypto: where envelopes are opened (the node's crypto pool); matching: where
    entries are opened and queries ranked (the node gives it one thread, so searches queue
    rather than take every core)."""
    key = IndexKey(store=store, keyring=keyring, clock=clock)
    index = SearchIndex(store=store, key=key, executor=matching)
    indexer = SearchIndexer(
        store=store,
        keyring=keyring,
        key=key,
        clock=clock,
        executor=crypto,
        on_written=index.written,
    )
    return index, indexer


def report_facts_tally_for(
    store: Store, keyring: Keyring, clock: Callable[[], datetime] = utc_now
) -> ReportFactsTally:
    """What the report counts from sealed content, recorded before retention deletes it
    (issue 13): the retention sweep's before_purge, in the node and `gateway retention run`.
    Ages are reckoned on local days (UTC+7, as the console shows them)."""
    return ReportFactsTally(store, keyring, LOCAL_TIME, clock)

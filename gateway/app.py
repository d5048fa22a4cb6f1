"""One gateway node: every component, wired explicitly, with one start and one stop.

Start order: database (embedded when the config names no DSN), migrations, keyring,
federation endpoint, operations endpoint (/healthz, /readyz, /metrics), delivery queues, the
retention sweep, then the NOTIFY listener that wakes them. Stop runs in reverse. Nothing here
holds state that is not also in PostgreSQL, so stopping at any point, even by kill -9, loses
nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from adapters import adapter_for
from gateway.api.acknowledgements import AcknowledgementRoutes
from gateway.api.routes import MAX_DOCUMENT_BYTES, LocalApi, api_clients, error_middleware
from gateway.api.search import SearchRoutes
from gateway.api.uploads import UPLOAD_PATH, AttachmentUploads
from gateway.attachments_read import AttachmentReader
from gateway.components import (
    console_context,
    crypto_threads,
    dispatcher_for,
    envelope_receiver_for,
    keyring_from_config,
    offline_courier_for,
    possible_match_finder_for,
    report_facts_tally_for,
    retry_policy,
    search_index_for,
    utc_now,
)
from gateway.config import NodeConfig, WebhookDelivery, is_loopback_host
from gateway.console import build_console
from gateway.console.form_limits import COMPOSE_MULTIPART_PATHS
from gateway.delivery.folder_attachments import FolderAttachments
from gateway.delivery.outgoing_folder import OutgoingFolderWatcher
from gateway.delivery.targets import DropFolderTarget, LocalTarget, WebhookTarget
from gateway.delivery.worker import LocalDeliveryQueue
from gateway.documents import DocumentDecoder
from gateway.federation.acknowledger import Acknowledger
from gateway.federation.attachments import ATTACHMENTS_PATH, HELD_BODY_BYTES, AttachmentEndpoint
from gateway.federation.checkpoint_statement import CheckpointStatementEndpoint
from gateway.federation.checkpointer import AuditCheckpointer
from gateway.federation.identity import client_ssl_context
from gateway.federation.outgoing import Dispatcher
from gateway.federation.posting import Destination
from gateway.federation.rollover import KeyRollover
from gateway.federation.sender import DestinationQueue, RetryPolicy
from gateway.federation.server import FederationEndpoint, PeerAdmission, server_ssl_context
from gateway.federation.streams import MIN_PEER_CHUNK_BYTES, StagingLocks, stream_length
from gateway.ops.database import NodeDatabase, open_database
from gateway.ops.listener import GuardedListener, check_open_file_limit, quiet_accept_errors
from gateway.ops.logs import fields
from gateway.ops.metrics import GatewayMetrics
from gateway.ops.node_health import node_health
from gateway.ops.private_files import private_folder
from gateway.ops.retention import RetentionSweep
from gateway.search.finder import PossibleMatchFinder
from gateway.search.index import SearchIndex
from gateway.store import Store
from gateway.wire import Kind

log = logging.getLogger(__name__)


class Gateway:
    """A running node."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        clock: Callable[[], datetime] = utc_now,
        instance: str | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        self.metrics = GatewayMetrics()
        self.keyring = keyring_from_config(config)
        self.queues: dict[str, DestinationQueue] = {}
        self.local_queues: dict[str, LocalDeliveryQueue] = {}
        # One staging of a local client's attachment id at a time, API or drop folder.
        self._staging_locks = StagingLocks()
        self._database: NodeDatabase | None = None
        self._listeners: list[GuardedListener] = []
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stop_listening: Callable[[], Awaitable[None]] | None = None
        self._stop_inbox_listening: Callable[[], Awaitable[None]] | None = None
        self._local_api: LocalApi | None = None
        # Opening envelopes, signing and verifying receipts, off the event loop (receiver.py,
        # sender.py).
        self._crypto = ThreadPoolExecutor(max_workers=crypto_threads(), thread_name_prefix="crypto")
        # Documents from local systems are decoded off the loop that serves the federation.
        self._decoder = DocumentDecoder()
        # Searches are ranked on one thread of their own: they queue, rather than take the
        # cores the federation's crypto needs (gateway/search/index.py).
        self._matching = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search")
        self._search_index: SearchIndex | None = None
        # Possible matches among the index's people (gateway.search.finder, issue 13).
        self.possible_matches: PossibleMatchFinder | None = None
        self.ready = False

    @property
    def store(self) -> Store:
        if self._database is None:
            raise RuntimeError("gateway not started")
        return self._database.store

    @property
    def search_index(self) -> SearchIndex:
        """The node's person search (PersonSearch, PersonIndex): the console's and the API's."""
        if self._search_index is None:
            raise RuntimeError("gateway not started")
        return self._search_index

    @property
    def dispatcher(self) -> Dispatcher:
        return dispatcher_for(self.config, self.store, self.clock, self.keyring)

    @property
    def acknowledger(self) -> Acknowledger:
        """Gives this node's acknowledgements of received messages (API, console)."""
        return Acknowledger(
            keyring=self.keyring,
            store=self.store,
            ttl=self.config.retry.message_ttl,
            clock=self.clock,
        )

    async def start(self) -> None:
        config = self.config
        if config.state_dir.exists():
            # Tightened if an older version or an operator left it open. Not created when
            # nothing uses it (a DSN configured): the config's folder may be read-only.
            private_folder(config.state_dir)
        self._database = await open_database(config)
        # Before anything serves: keys added while the node was down are announced, and
        # the keyring gets the recorded peer keys.
        rollover = KeyRollover(
            config=config, keyring=self.keyring, store=self.store, clock=self.clock
        )
        await rollover.start()
        self._tasks.append(asyncio.create_task(rollover.run(), name="key-rollover"))
        checkpointer = AuditCheckpointer(
            keyring=self.keyring,
            store=self.store,
            peers=[peer.id for peer in config.peers],
            settings=config.audit.checkpoints,
            ttl=config.retry.message_ttl,
            clock=self.clock,
        )
        self._tasks.append(asyncio.create_task(checkpointer.run(), name="audit-checkpoints"))
        self._start_search()
        # Possible matches (issue 13): each new person of the index, once, against the rest.
        assert self._search_index is not None
        self.possible_matches = possible_match_finder_for(self.store, self._search_index)
        self._search_index.follow(self.possible_matches.wake)
        self._tasks.append(
            asyncio.create_task(self.possible_matches.run(), name="possible-matches")
        )
        receiver = envelope_receiver_for(
            config,
            self.store,
            self.keyring,
            self.clock,
            self.metrics,
            crypto=self._crypto,
            refresh_keys=rollover.check,
        )
        admissions = {
            peer.id: PeerAdmission(
                peer.rate_limit.requests_per_second,
                peer.rate_limit.burst,
                peer.tls.mutual,
                peer.rate_limit.envelopes_per_second,
                peer.rate_limit.envelope_burst,
                frozenset(peer.tls.spki_sha256),
            )
            for peer in config.peers
        }
        endpoint = FederationEndpoint(
            receiver=receiver,
            peers=admissions,
            max_batch_bytes=config.limits.max_batch_bytes,
            max_envelopes_per_batch=config.limits.max_envelopes_per_batch,
            metrics=self.metrics,
        )
        listen = config.listen
        quiet_accept_errors(asyncio.get_running_loop(), self.metrics)
        tls = listen.federation.tls
        federation_listener = GuardedListener(
            "federation",
            listen.limits,
            self.metrics,
            server_ssl_context(
                str(tls.cert_file),
                str(tls.key_file),
                str(tls.client_ca_file) if tls.client_ca_file else None,
            )
            if tls
            else None,
            streamed={ATTACHMENTS_PATH: HELD_BODY_BYTES},
        )
        federation = web.Application(
            client_max_size=config.limits.max_batch_bytes,
            middlewares=[federation_listener.middleware],
        )
        # Attachment streams (PROTOCOL.md 7.4): same peers, same identity checks; the
        # receiver checks them against the envelope that names them (incoming_attachments).
        attachments = AttachmentEndpoint(
            store=self.store,
            peers=admissions,
            # The limit is of plaintext (what a local client may upload); a stream of it
            # at any chunk size of 4 KiB or more fits this bound (PROTOCOL.md 7.4, 11.2).
            max_attachment_bytes=stream_length(
                config.limits.max_attachment_bytes, MIN_PEER_CHUNK_BYTES
            ),
            metrics=self.metrics,
            clock=self.clock,
            max_pending_bytes_per_peer=config.limits.max_pending_attachment_bytes_per_peer,
        )
        # Which checkpoint of a peer's audit chain this node holds, for its `audit verify
        # --ask-peers` (PROTOCOL.md 16.8).
        statements = CheckpointStatementEndpoint(
            keyring=self.keyring, store=self.store, peers=admissions, clock=self.clock
        )
        federation.add_routes([*endpoint.routes(), *attachments.routes(), *statements.routes()])
        await self._serve(
            federation_listener, federation, listen.federation.host, listen.federation.port
        )
        # One reader for the API and the console: its bound on concurrent decryptions (and
        # their temporary files) holds for the node.
        attachment_reader = AttachmentReader(self.store, self.keyring)
        local_api = LocalApi(
            attachments=attachment_reader,
            clients=api_clients(config.local_clients),
            store=self.store,
            keyring=self.keyring,
            dispatcher=self.dispatcher,
            metrics_token_sha256=listen.api.metrics_token_sha256,
            decoder=self._decoder,
            clock=self.clock,
        )
        self._local_api = local_api
        uploads = AttachmentUploads(
            locks=self._staging_locks,
            authenticate=local_api.client,
            store=self.store,
            keyring=self.keyring,
            max_bytes=config.limits.max_attachment_bytes,
            clock=self.clock,
            executor=self._crypto,
        )
        api_tls = listen.api.tls
        api_listener = GuardedListener(
            "api",
            listen.limits,
            self.metrics,
            server_ssl_context(str(api_tls.cert_file), str(api_tls.key_file), None)
            if api_tls
            else None,
            # Uploads, and the console's compose forms with files, stream their bodies.
            streamed={
                UPLOAD_PATH: HELD_BODY_BYTES,
                **dict.fromkeys(COMPOSE_MULTIPART_PATHS, HELD_BODY_BYTES),
            },
        )
        ops = web.Application(
            client_max_size=MAX_DOCUMENT_BYTES,
            middlewares=[api_listener.middleware, error_middleware],
        )
        ops.add_routes(
            [
                web.get("/healthz", self._healthz),
                web.get("/readyz", self._readyz),
                web.get("/metrics", self._metrics),
                *local_api.routes(),
                *uploads.routes(),
                *AcknowledgementRoutes(
                    authenticate=local_api.client, acknowledger=self.acknowledger
                ).routes(),
                *SearchRoutes(
                    authenticate=local_api.client,
                    search=lambda: self.search_index,
                    store=self.store,
                ).routes(),
            ]
        )
        ops.add_subapp(
            "/console/",
            build_console(
                console_context(
                    config,
                    self.store,
                    self.clock,
                    self.keyring,
                    attachment_reader,
                    # The node's own receiver and metrics, as the federation endpoint's.
                    bundle_courier=lambda actor: offline_courier_for(
                        config,
                        self.store,
                        self.keyring,
                        self.clock,
                        self.metrics,
                        receiver=receiver,
                        actor=actor,
                    ),
                    person_search=self.search_index,
                    person_index=self._search_index,
                )
            ),
        )
        if api_tls is None and not is_loopback_host(listen.api.host):
            log.warning(
                "api_plain_http",
                extra=fields(
                    host=listen.api.host,
                    setting="listen.api.insecure_plain_http",
                    hint="bearer tokens and documents cross the network in clear unless a TLS "
                    "proxy on this machine fronts it",
                ),
            )
        await self._serve(api_listener, ops, listen.api.host, listen.api.port)

        self._session = aiohttp.ClientSession()
        policy = retry_policy(config)
        for peer in config.peers:
            queue = DestinationQueue(
                node_id=config.node.id,
                destination=Destination(peer.id, peer.url, client_ssl_context(peer)),
                store=self.store,
                keyring=self.keyring,
                session=self._session,
                policy=policy,
                owner=self.instance,
                clock=self.clock,
                metrics=self.metrics,
                crypto=self._crypto,
            )
            self.queues[peer.id] = queue
            self._tasks.append(asyncio.create_task(queue.run(), name=f"deliver:{peer.id}"))
        self._start_local_delivery(policy, attachment_reader)
        self._start_retention()
        self._stop_listening = await self.store.listen_outbox(self._wake)
        self._stop_inbox_listening = await self.store.listen_inbox(self._wake_local)
        self.ready = True
        log.info(
            "node_up",
            extra=fields(
                federation=f"{listen.federation.host}:{listen.federation.port}",
                api=f"{listen.api.host}:{listen.api.port}",
                peers=len(config.peers),
            ),
        )

    def _start_local_delivery(
        self, policy: RetryPolicy, attachment_reader: AttachmentReader
    ) -> None:
        assert self._session is not None
        dispatcher = self.dispatcher
        for client in self.config.local_clients:
            delivery = client.delivery
            if delivery is not None:
                target: LocalTarget = (
                    WebhookTarget(delivery.url, delivery.hmac_secret, self._session)
                    if isinstance(delivery, WebhookDelivery)
                    else DropFolderTarget(
                        delivery.path,
                        self.metrics.unsafe_paths.labels(client.id, "delivered").inc,
                        # Attachments beside the message file, from the one shared reader.
                        attachment_reader,
                    )
                )
                queue = LocalDeliveryQueue(
                    client=client.id,
                    target=target,
                    adapter=adapter_for(delivery.format),
                    store=self.store,
                    keyring=self.keyring,
                    policy=policy,
                    metrics=self.metrics,
                )
                self.local_queues[client.id] = queue
                self._tasks.append(asyncio.create_task(queue.run(), name=f"local:{client.id}"))
            outgoing = client.outgoing_folder
            if outgoing is not None:
                watcher = OutgoingFolderWatcher(
                    client=client.id,
                    folder=outgoing.path,
                    adapter=adapter_for(outgoing.format),
                    recipients=outgoing.to,
                    dispatcher=dispatcher,
                    decoder=self._decoder,
                    store=self.store,
                    poll_interval=outgoing.poll_interval.total_seconds(),
                    metrics=self.metrics,
                    attachments=FolderAttachments(
                        client=client.id,
                        folder=outgoing.path,
                        store=self.store,
                        keyring=self.keyring,
                        max_bytes=self.config.limits.max_attachment_bytes,
                        clock=self.clock,
                        executor=self._crypto,
                        locks=self._staging_locks,
                    ),
                )
                self._tasks.append(asyncio.create_task(watcher.run(), name=f"drop:{client.id}"))

    def _start_search(self) -> None:
        """The indexer catches up on stored messages and follows new ones; the index loads in
        the background (a search before it is loaded waits for the load)."""
        index, indexer = search_index_for(
            self.store, self.keyring, self.clock, crypto=self._crypto, matching=self._matching
        )
        self._search_index = index
        self._tasks.append(asyncio.create_task(indexer.run(), name="search-indexer"))
        self._tasks.append(asyncio.create_task(index.start(), name="search-index-load"))

    def _start_retention(self) -> None:
        retention = self.config.retention
        sweep = RetentionSweep(
            store=self.store,
            outgoing_folders=[
                client.outgoing_folder.path
                for client in self.config.local_clients
                if client.outgoing_folder is not None
            ],
            retention=retention,
            clock=self.clock,
            metrics=self.metrics,
            before_purge=report_facts_tally_for(self.store, self.keyring, self.clock).tally,
        )
        self._tasks.append(asyncio.create_task(sweep.run(), name="retention"))

    def _wake_local(self, client: str) -> None:
        queue = self.local_queues.get(client)
        if queue is not None:
            queue.wake()

    def _wake(self, peer: str) -> None:
        queue = self.queues.get(peer)
        if queue is not None:
            queue.wake()

    async def _serve(
        self, listener: GuardedListener, app: web.Application, host: str, port: int
    ) -> None:
        self._listeners.append(listener)
        await listener.start(app, host, port)

    async def stop(self) -> None:
        self.ready = False
        for stopper in (self._stop_listening, self._stop_inbox_listening):
            if stopper is not None:
                await stopper()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        for listener in reversed(self._listeners):
            await listener.stop()
        self._decoder.close()
        if self._database is not None:
            await self._database.close()
        self._crypto.shutdown(wait=True, cancel_futures=True)
        self._matching.shutdown(wait=True, cancel_futures=True)

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "node": self.config.node.id})

    async def _readyz(self, _request: web.Request) -> web.Response:
        if not self.ready:
            return web.json_response({"status": "starting"}, status=503)
        try:
            await self.store.pending_count(self.config.node.id)
        except Exception:
            return web.json_response({"status": "database unavailable"}, status=503)
        return web.json_response({"status": "ready"})

    async def _metrics(self, request: web.Request) -> web.Response:
        assert self._local_api is not None
        self._local_api.authorize_metrics(request)
        self.metrics.record_health(await node_health(self.config, self.store, self.clock()))
        self.metrics.record_pool(self.store.pool_usage())
        self.metrics.record_acknowledgements_overdue(
            await self.store.overdue_acknowledgement_counts(self.clock()),
            [peer.id for peer in self.config.peers],
            [kind.value for kind in Kind],
        )
        self.metrics.record_checkpoints(*await self.store.checkpoint_health())
        self.metrics.possible_matches_open.set(await self.store.possible_matches_open())
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def run_until_signalled(config: NodeConfig) -> None:
    """Run a node until SIGINT or SIGTERM."""
    check_open_file_limit(config.listen.limits)
    gateway = Gateway(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await gateway.start()
        await stop.wait()
    finally:
        await gateway.stop()

"""Prometheus metrics of one gateway process, on a registry of its own.

A registry per process object (rather than the global default) lets tests run several
gateways in one interpreter without their counters colliding.

The gauges of peers, local systems and keys are set from gateway/ops/node_health.py's
figures at each scrape (record_health), the same figures `gateway status` prints, so the
dashboard, the alerts and the terminal agree. A peer never tried yet (reachability unknown)
has no blg_peer_reachable sample: 0 would page someone about a link nobody has used.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from gateway.ops.node_health import SELF, NodeHealth, Reachability
from gateway.store import PoolUsage

DISTRIBUTION = "border-liaison-gateway"


def gateway_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a tree that was never installed
        return "unknown"


class GatewayMetrics:
    """Every metric the gateway exports, created on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.deliveries = Counter(
            "blg_deliveries_total",
            "Envelopes whose delivery attempt ended, by peer and outcome.",
            ["peer", "outcome"],
            registry=r,
        )
        self.delivery_requests = Counter(
            "blg_delivery_requests_total",
            "Batches posted to peers, by peer and result (ok, http_4xx, http_5xx, network...).",
            ["peer", "result"],
            registry=r,
        )
        self.delivery_latency = Histogram(
            "blg_delivery_request_seconds",
            "Time for one batch POST to a peer, until its receipts are verified.",
            ["peer"],
            registry=r,
        )
        self.received = Counter(
            "blg_received_envelopes_total",
            "Envelopes received from peers, by claimed sender and result (accepted, replay, "
            "or the rejection reason code).",
            ["peer", "result"],
            registry=r,
        )
        self.refused_requests = Counter(
            "blg_federation_refused_requests_total",
            "Federation requests refused before any envelope was opened, by reason code.",
            ["reason"],
            registry=r,
        )
        self.listener_connections = Gauge(
            "blg_listener_connections",
            "Open connections per listener (federation, api), TLS handshakes included.",
            ["listener"],
            registry=r,
        )
        self.listener_body_bytes = Gauge(
            "blg_listener_body_bytes_in_flight",
            "Declared lengths of the request bodies a listener is receiving or handling.",
            ["listener"],
            registry=r,
        )
        self.listener_refusals = Counter(
            "blg_listener_refused_connections_total",
            "Connections a listener closed or requests it refused for its own limits, by "
            "reason (connection_limit, header_timeout, body_timeout, tls_handshake, "
            "bytes_in_flight, out_of_file_descriptors).",
            ["listener", "reason"],
            registry=r,
        )
        self.local_withheld = Counter(
            "blg_local_deliveries_withheld_total",
            "Incoming messages not delivered to a local client that takes their kind because "
            "their marking (victim-protected, or unknown) is not allowed to it "
            "(local_clients[].victim_protected), by client.",
            ["client"],
            registry=r,
        )
        self.local_withdrawn = Counter(
            "blg_local_deliveries_withdrawn_total",
            "Local deliveries of incoming messages stopped before they went out because the "
            "sender cancelled the case (docs/PROTOCOL.md section 14), by client.",
            ["client"],
            registry=r,
        )
        self.bundles_exported = Counter(
            "blg_bundles_exported_total",
            "Offline bundles of envelopes written for a peer (docs/PROTOCOL.md section 15).",
            ["peer"],
            registry=r,
        )
        self.bundles_imported = Counter(
            "blg_bundles_imported_total",
            "Offline bundles imported, by sender and kind (envelopes, receipts).",
            ["peer", "kind"],
            registry=r,
        )
        self.bundles_refused = Counter(
            "blg_bundles_refused_total",
            "Offline bundles refused whole, by reason code.",
            ["reason"],
            registry=r,
        )
        self.local_deliveries = Counter(
            "blg_local_deliveries_total",
            "Attempts to deliver incoming messages to local systems, by client and result.",
            ["client", "result"],
            registry=r,
        )
        self.local_backlog = Gauge(
            "blg_local_delivery_pending",
            "Incoming messages not yet delivered to a local system, per client.",
            ["client"],
            registry=r,
        )
        self.local_held = Gauge(
            "blg_local_deliveries_held",
            "Incoming messages held aside because the client's format cannot render them "
            "(requeue after a fix), per client.",
            ["client"],
            registry=r,
        )
        self.unsafe_paths = Counter(
            "blg_unsafe_paths_refused_total",
            "Files the gateway refused to write because a symlink or another file stood at "
            "the path, by client and file role (errors, delivered).",
            ["client", "role"],
            registry=r,
        )
        self.retention_sweeps = Counter(
            "blg_retention_sweeps_total",
            "Retention sweeps run, by result (ok, failed).",
            ["result"],
            registry=r,
        )
        self.retention_purged = Counter(
            "blg_retention_purged_total",
            "Message contents (outbox, inbox, drafts) and done/ files (done_files) deleted "
            "by retention, by what.",
            ["what"],
            registry=r,
        )
        self.dropped_files = Counter(
            "blg_dropped_files_total",
            "Files taken from outgoing drop folders, by client and result.",
            ["client", "result"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "blg_outbox_pending",
            "Envelopes queued or being sent, per peer.",
            ["peer"],
            registry=r,
        )
        self.oldest_pending_age = Gauge(
            "blg_outbox_oldest_pending_seconds",
            "Age of the oldest undelivered envelope, per peer (0 when none).",
            ["peer"],
            registry=r,
        )
        self.peer_failures = Gauge(
            "blg_peer_consecutive_failures",
            "Consecutive failed delivery attempts to a peer (0 when reachable).",
            ["peer"],
            registry=r,
        )
        self.peer_last_success = Gauge(
            "blg_peer_last_success_timestamp_seconds",
            "Unix time of the last successful delivery to a peer.",
            ["peer"],
            registry=r,
        )
        self.peer_reachable = Gauge(
            "blg_peer_reachable",
            "1 when the last delivery attempt to a peer succeeded, 0 when it failed (no sample "
            "before the first attempt); the console and `gateway status` decide the same way.",
            ["peer"],
            registry=r,
        )
        self.local_oldest_pending_age = Gauge(
            "blg_local_delivery_oldest_pending_seconds",
            "Age of the oldest incoming message not yet delivered to a local system (0 when "
            "none), per client.",
            ["client"],
            registry=r,
        )
        self.key_expiry_days = Gauge(
            "blg_key_expiry_days",
            f"Whole days until a key stops being valid (negative once past), per key id; peer "
            f'is the peer owning it, or "{SELF}" for this node\'s own keys.',
            ["peer", "key"],
            registry=r,
        )
        self.pool_in_use = Gauge(
            "blg_database_pool_in_use",
            "Database connections of this process checked out now.",
            registry=r,
        )
        self.pool_size = Gauge(
            "blg_database_pool_size",
            "Database connections this process holds open (in use or idle).",
            registry=r,
        )
        self.pool_max_size = Gauge(
            "blg_database_pool_max_size",
            "The most database connections this process may open.",
            registry=r,
        )
        self.retention_last_success = Gauge(
            "blg_retention_last_success_timestamp_seconds",
            "Unix time the last retention sweep ended without error (0 before the first).",
            registry=r,
        )
        self.acknowledgements_overdue = Gauge(
            "blg_acknowledgements_overdue",
            "Sent messages past their acknowledgement deadline that no person at the peer has "
            "acknowledged yet (docs/PROTOCOL.md section 13).",
            ["peer", "kind"],
            registry=r,
        )
        self._overdue_seen: set[tuple[str, str]] = set()
        self.checkpoint_countersigned = Gauge(
            "blg_audit_checkpoint_countersigned_timestamp_seconds",
            "Unix time the newest countersignature of this node's audit checkpoints arrived "
            "from a peer (docs/PROTOCOL.md section 16).",
            ["peer"],
            registry=r,
        )
        self.checkpoints_contradicted = Gauge(
            "blg_audit_checkpoints_contradicted",
            "Audit checkpoints held for a peer (its origin) that go back or give another hash "
            "for an entry than an earlier one: that node's audit chain was cut or rewritten.",
            ["origin"],
            registry=r,
        )
        # Set at each scrape from the store (Store.possible_matches_open); no labels: a
        # label holding a case or a person would put victim data in the monitoring.
        self.possible_matches_open = Gauge(
            "blg_possible_matches_open",
            "Possible matches between people of two open cases waiting for an officer's "
            "decision (confirm or dismiss).",
            registry=r,
        )
        self.build = Info(
            "blg_build", "The gateway's version and the Python running it.", registry=r
        )
        self.build.info({"version": gateway_version(), "python": platform.python_version()})

    def record_health(self, health: NodeHealth) -> None:
        """Set the per-peer, per-local-system and per-key gauges from one reading."""
        for peer in health.peers:
            self.queue_depth.labels(peer.id).set(peer.pending)
            self.oldest_pending_age.labels(peer.id).set(peer.oldest_pending_seconds)
            self.peer_failures.labels(peer.id).set(peer.failures)
            if peer.last_success_at is not None:
                self.peer_last_success.labels(peer.id).set(peer.last_success_at.timestamp())
            if peer.reachability is not Reachability.UNKNOWN:
                self.peer_reachable.labels(peer.id).set(
                    1 if peer.reachability is Reachability.REACHABLE else 0
                )
        for local in health.local_systems:
            self.local_backlog.labels(local.id).set(local.backlog)
            self.local_held.labels(local.id).set(local.held)
            self.local_oldest_pending_age.labels(local.id).set(local.oldest_pending_seconds)
        for key in health.keys:
            self.key_expiry_days.labels(key.owner, key.key_id).set(key.days_left)

    def record_acknowledgements_overdue(
        self, counts: Mapping[tuple[str, str], int], peers: Sequence[str], kinds: Sequence[str]
    ) -> None:
        """Set the overdue gauge from one reading: every peer and kind (0 when none is
        overdue, so that an alert resolves and a series is there to alert on), and any other
        (peer, kind) the reading names. Peer ids and kind names only: never a case."""
        self._overdue_seen |= {(peer, kind) for peer in peers for kind in kinds} | set(counts)
        for peer, kind in sorted(self._overdue_seen):
            self.acknowledgements_overdue.labels(peer, kind).set(counts.get((peer, kind), 0))

    def record_checkpoints(
        self, countersigned: Mapping[str, datetime], contradicted: Mapping[str, int]
    ) -> None:
        """Set the checkpoint gauges from one reading (Store.checkpoint_health)."""
        for peer, at in countersigned.items():
            self.checkpoint_countersigned.labels(peer).set(at.timestamp())
        for origin, count in contradicted.items():
            self.checkpoints_contradicted.labels(origin).set(count)

    def record_pool(self, usage: PoolUsage) -> None:
        self.pool_in_use.set(usage.in_use)
        self.pool_size.set(usage.size)
        self.pool_max_size.set(usage.max_size)

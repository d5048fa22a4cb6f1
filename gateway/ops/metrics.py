"""Prometheus metrics of one gateway process, on a registry of its own.

A registry per process object (rather than the global default) lets tests run several
gateways in one interpreter without their counters colliding.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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

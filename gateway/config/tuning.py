"""Reading the tuning sections: retry and limits, and the check that spans limits and listen."""

from __future__ import annotations

from datetime import timedelta

from gateway.config.converters import duration, integer_in, size
from gateway.config.schema import (
    DEFAULT_LIMITS,
    DEFAULT_RETRY,
    LimitsConfig,
    ListenConfig,
    RetryConfig,
)
from gateway.config.values import format_duration
from gateway.config.walker import MappingReader, Value

# Tuning sections


# The protocol's bound (docs/PROTOCOL.md, lifetime_too_long), kept here as a plain value so
# that configuration needs no crypto import.
MAX_MESSAGE_TTL = timedelta(days=30)


def read_retry(value: Value, per_batch: int | None) -> RetryConfig:
    r = value.mapping()
    retry = RetryConfig(
        initial_backoff=r.optional("initial_backoff", duration, DEFAULT_RETRY.initial_backoff),
        max_backoff=r.optional("max_backoff", duration, DEFAULT_RETRY.max_backoff),
        batch_size=r.optional("batch_size", integer_in(1, 1000), DEFAULT_RETRY.batch_size),
        message_ttl=r.optional("message_ttl", duration, DEFAULT_RETRY.message_ttl),
    )
    if r.ok("initial_backoff", "max_backoff") and retry.max_backoff < retry.initial_backoff:
        low, high = format_duration(retry.initial_backoff), format_duration(retry.max_backoff)
        if r.has("max_backoff"):
            r.report("max_backoff", f"expected at least initial_backoff ({low}), got {high}")
        else:
            r.report("initial_backoff", f"expected at most max_backoff ({high}), got {low}")
    # Our own receiver's limit stands for the peers': a node whose batches its own endpoint
    # would refuse is misconfigured on one side or the other.
    if per_batch is not None and r.ok("batch_size") and retry.batch_size > per_batch:
        r.report(
            "batch_size",
            f"expected at most limits.max_envelopes_per_batch ({per_batch}), "
            f"got {retry.batch_size}",
        )
    if r.ok("message_ttl") and retry.message_ttl > MAX_MESSAGE_TTL:
        r.report(
            "message_ttl",
            f"expected at most {format_duration(MAX_MESSAGE_TTL)}: receivers refuse messages "
            f"that live longer, got {format_duration(retry.message_ttl)}",
        )
    r.finish()
    return retry


def check_in_flight_against_batch(
    r: MappingReader, listen: ListenConfig, limits: LimitsConfig
) -> None:
    """A batch body larger than the listener's in-flight budget would be answered 503 on
    every attempt, and a peer would resend it until its messages expire: refuse that."""
    if not (
        r.ok("listen", "limits")
        and isinstance(listen, ListenConfig)
        and isinstance(limits, LimitsConfig)
    ):
        return
    budget = listen.limits.max_body_bytes_in_flight
    if budget < limits.max_batch_bytes:
        r.report(
            "listen",
            f"limits.max_body_bytes_in_flight: expected at least limits.max_batch_bytes "
            f"({limits.max_batch_bytes} bytes), got {budget} bytes",
        )


def read_limits(value: Value) -> LimitsConfig:
    r = value.mapping()
    limits = LimitsConfig(
        max_envelope_bytes=r.optional(
            "max_envelope_bytes", size, DEFAULT_LIMITS.max_envelope_bytes
        ),
        max_batch_bytes=r.optional("max_batch_bytes", size, DEFAULT_LIMITS.max_batch_bytes),
        max_clock_skew=r.optional("max_clock_skew", duration, DEFAULT_LIMITS.max_clock_skew),
        max_attachment_bytes=r.optional(
            "max_attachment_bytes", size, DEFAULT_LIMITS.max_attachment_bytes
        ),
        max_pending_attachment_bytes_per_peer=r.optional(
            "max_pending_attachment_bytes_per_peer",
            size,
            DEFAULT_LIMITS.max_pending_attachment_bytes_per_peer,
        ),
        max_envelopes_per_batch=r.optional(
            "max_envelopes_per_batch",
            integer_in(1, 10_000),
            DEFAULT_LIMITS.max_envelopes_per_batch,
        ),
        max_bundle_bytes=r.optional("max_bundle_bytes", size, DEFAULT_LIMITS.max_bundle_bytes),
        max_bundle_items=r.optional(
            "max_bundle_items", integer_in(1, 1_000_000), DEFAULT_LIMITS.max_bundle_items
        ),
    )
    envelope, batch = limits.max_envelope_bytes, limits.max_batch_bytes
    # A batch that cannot hold one envelope of the largest allowed size would never drain.
    if r.ok("max_envelope_bytes", "max_batch_bytes") and batch < envelope:
        if r.has("max_batch_bytes"):
            r.report(
                "max_batch_bytes",
                f"expected at least max_envelope_bytes ({envelope} bytes), got {batch} bytes",
            )
        else:
            r.report(
                "max_envelope_bytes",
                f"expected at most max_batch_bytes ({batch} bytes), got {envelope} bytes",
            )
    r.finish()
    return limits

"""The typed shape of one node's configuration, as the rest of the gateway sees it.

Everything here is frozen and already validated: code that receives a `NodeConfig` never
re-checks a port range or parses a duration, and cannot change the configuration under a
running worker's feet. Values are stored in their useful form (timedelta, int bytes, aware UTC
datetime, absolute Path, raw key bytes), never as the text the operator typed.

Secret bytes and the database DSN (which usually embeds a password) are excluded from repr so
that a config object logged by mistake, or shown in a traceback, does not leak them.

Defaults live here, in the dataclass fields, and nowhere else: the loader reads them from the
`DEFAULT_*` instances so the documentation of a default and its value cannot drift apart. The
one default that depends on another value is a delivery's format: the client's first format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, get_args

from gateway.config.acknowledgements import DEFAULT_ACKNOWLEDGEMENTS, AcknowledgementRule
from gateway.ops.logs import LogFormat, LogLevel
from gateway.wire import Kind

# The kinds are the protocol's; config names them by their snake_case values.
KINDS: tuple[Kind, ...] = tuple(Kind)

Language = Literal["vi", "km", "en", "lo"]
LANGUAGES: tuple[Language, ...] = get_args(Language)

NODE_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# Local client ids appear in audit entries and metrics labels next to node ids: same alphabet.
CLIENT_ID_PATTERN = NODE_ID_PATTERN
FORMAT_ID_PATTERN = re.compile(r"[a-z0-9-]+")
COUNTRY_PATTERN = re.compile(r"[A-Z]{2}")
PROVINCE_PATTERN = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")

# How incoming messages reach a local client; `type:` in the file picks one.
DeliveryType = Literal["webhook", "drop_folder"]
DELIVERY_TYPES: tuple[DeliveryType, ...] = get_args(DeliveryType)
# A webhook's HMAC key: shorter ones are guessable, and the key is all that proves a push
# came from this gateway.
MIN_HMAC_SECRET_CHARS = 32


@dataclass(frozen=True)
class LocalizedNames:
    """An agency's name in the federation's languages; English is the common fallback."""

    en: str
    vi: str | None = None
    km: str | None = None
    lo: str | None = None

    def in_language(self, language: Language) -> str:
        """The name in `language`, or the English name where that translation is missing."""
        name: str | None = getattr(self, language)
        return self.en if name is None else name


@dataclass(frozen=True)
class NodeIdentity:
    id: str
    names: LocalizedNames
    country: str
    province: str | None = None


@dataclass(frozen=True)
class OwnKeyConfig:
    """One of this node's key pairs, with the secret material already read from its file."""

    id: str
    valid_from: datetime
    valid_until: datetime
    private_key_file: Path
    signing_seed: bytes = field(repr=False)
    encryption_secret: bytes = field(repr=False)

    def valid_at(self, instant: datetime) -> bool:
        return self.valid_from <= instant < self.valid_until


@dataclass(frozen=True)
class ServerTlsConfig:
    cert_file: Path
    # Refused when group or others may read it, like the gateway's own private key files.
    key_file: Path
    # Present: peers must show a client certificate signed by this CA (see PeerConfig.tls).
    client_ca_file: Path | None = None


@dataclass(frozen=True)
class FederationListenConfig:
    host: str
    port: int
    # None means plain HTTP, which the loader allows only on loopback hosts (for a local demo
    # or behind a TLS-terminating proxy on the same machine).
    tls: ServerTlsConfig | None = None
    # Mutual TLS is the rule: without this waiver the loader requires tls with a
    # client_ca_file, so that a peer is known by its certificate, not by the BLG-Sender header
    # it claims. The waiver is allowed on loopback hosts only (demo, tests, a local proxy).
    insecure_no_mutual_tls: bool = False


@dataclass(frozen=True)
class ApiListenConfig:
    host: str
    port: int
    # None means plain HTTP, which the loader refuses on a non-loopback host unless
    # insecure_plain_http waives it (and the node then warns at every start).
    tls: ServerTlsConfig | None = None
    insecure_plain_http: bool = False
    # SHA-256 of a bearer token that may read /metrics and nothing else (a Prometheus
    # scraper); any local client's token may read it too.
    metrics_token_sha256: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ListenerLimits:
    """Caps and deadlines of each listener (federation and local API, each on its own).

    A connection counts from its TCP accept, TLS handshake included; beyond max_connections
    it is closed at once. header_timeout runs from accept (or from the end of the previous
    response) to the end of the request headers, TLS handshake included; body_timeout from
    the end of the headers to the last byte of the body; idle_timeout is the keep-alive wait
    for the next request. max_body_bytes_in_flight bounds the sum of the declared lengths of
    the bodies being received or handled at once; a request beyond it is answered 503.
    """

    max_connections: int = 512
    header_timeout: timedelta = timedelta(seconds=10)
    body_timeout: timedelta = timedelta(seconds=60)
    idle_timeout: timedelta = timedelta(seconds=30)
    max_body_bytes_in_flight: int = 64 * 1024**2


@dataclass(frozen=True)
class ListenConfig:
    federation: FederationListenConfig
    api: ApiListenConfig
    limits: ListenerLimits = ListenerLimits()


@dataclass(frozen=True)
class DatabaseConfig:
    # None: the gateway runs an embedded PostgreSQL in state_dir.
    dsn: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PeerTlsConfig:
    ca_file: Path | None = None
    client_cert_file: Path | None = None
    # Refused when group or others may read it.
    client_key_file: Path | None = None
    # True: this peer must present a client certificate naming it when it connects to us.
    # The loader makes it the default unless listen.federation.insecure_no_mutual_tls.
    mutual: bool = True
    # SHA-256 digests of the Subject Public Key Info of the peer's certificates (its server
    # certificate and its client certificate), hex. Empty: any certificate of the CA that
    # names the peer. SPKI rather than whole-certificate digests: a certificate renewed on
    # the same key (new validity, same agency) keeps its pin, so a routine renewal needs no
    # change at every peer, while a certificate of another peer, even from the same CA, has
    # another key and is refused (RFC 7469 pins the same way). Several pins allow a key
    # rollover without a flag day.
    spki_sha256: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class PeerKeyConfig:
    """One of a peer's published public key pairs and the window in which it may be used."""

    id: str
    signing_public_key: bytes
    encryption_public_key: bytes
    valid_from: datetime
    valid_until: datetime

    def valid_at(self, instant: datetime) -> bool:
        return self.valid_from <= instant < self.valid_until


@dataclass(frozen=True)
class RateLimitConfig:
    # A peer sends one request at a time per sending process, batches of up to 100: 100
    # requests/s leaves room for a peer's replicas and a backlog drain at full speed.
    requests_per_second: float = 100.0
    burst: int = 200
    # Envelopes, not requests, are what cost a receiver (a verify, a decrypt and a signed
    # receipt each), so they have a bucket of their own. 2,000/s is about 40 % of one core's
    # crypto ceiling (bench/README.md), above the measured exchange throughput (~1,700/s) and
    # far above a real border's traffic; the burst holds 40 full batches.
    envelopes_per_second: float = 2000.0
    envelope_burst: int = 4000


@dataclass(frozen=True)
class PeerConfig:
    id: str
    names: LocalizedNames
    country: str
    # Always ends with "/" so that joining "federation/v1/..." keeps any path prefix.
    url: str
    tls: PeerTlsConfig
    keys: tuple[PeerKeyConfig, ...]
    send: frozenset[Kind]
    receive: frozenset[Kind]
    rate_limit: RateLimitConfig
    # Canonical field paths (`hotline_alert.caller`, `victim_handover.escort`) removed from
    # every message before it is sealed for this peer; the loader checked each against
    # blg.v1.Message. Route policy adds fixed rules of its own (the caller never leaves VN).
    redact: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebhookDelivery:
    """Incoming messages are POSTed to `url`, signed with HMAC-SHA256 under `hmac_secret`."""

    # As written (no "/" added): it names one endpoint, not a base for joining paths.
    url: str
    hmac_secret: bytes = field(repr=False)
    # One of the client's formats.
    format: str


@dataclass(frozen=True)
class DropFolderDelivery:
    """Incoming messages are written as files into `path` (created at start if absent)."""

    path: Path
    format: str


DEFAULT_POLL_INTERVAL = timedelta(seconds=2)


@dataclass(frozen=True)
class OutgoingFolder:
    """Files the client drops into `path`, written in `format`, are sent to peers."""

    path: Path
    format: str
    # Empty: the routing rules choose the recipients of each file.
    to: tuple[str, ...] = ()
    poll_interval: timedelta = DEFAULT_POLL_INTERVAL


@dataclass(frozen=True)
class LocalClientConfig:
    id: str
    # Only the hash is configured: the bearer token itself never sits in a file.
    token_sha256: bytes = field(repr=False)
    formats: tuple[str, ...]
    kinds: frozenset[Kind]
    # None: the client fetches incoming messages through the API itself.
    delivery: WebhookDelivery | DropFolderDelivery | None = None
    outgoing_folder: OutgoingFolder | None = None
    # Whether victim-protected messages (and those of unknown marking) reach this client, by
    # its delivery or its API inbox. Off unless the agency says this system may hold them.
    victim_protected: bool = False


@dataclass(frozen=True)
class RoutingRule:
    """Where a message goes when the local client names no recipient.

    A message matches when its kind is in `kinds` and, unless `provinces` is empty (any
    place), its province is one of `provinces` or lies in one of the countries listed there
    (`KH` matches `KH-16`). Every `to` peer is a configured peer that accepts all of `kinds`.
    """

    kinds: frozenset[Kind]
    provinces: tuple[str, ...]
    to: tuple[str, ...]


# A rule that names no kinds routes every kind, and one that names no provinces any place.
DEFAULT_ROUTING_KINDS: frozenset[Kind] = frozenset(KINDS)
DEFAULT_ROUTING_PROVINCES: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetryConfig:
    initial_backoff: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(minutes=10)
    batch_size: int = 100
    message_ttl: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class ContentRetention:
    """How long the sealed content of a finished message is kept, per handling marking
    (config/README.md says why these defaults). The rows, receipts and audit entries stay."""

    normal: timedelta = timedelta(days=90)
    restricted: timedelta = timedelta(days=30)
    # Victim data goes soonest; also the period of any unknown marking, and of drafts.
    victim_protected: timedelta = timedelta(days=14)


@dataclass(frozen=True)
class RetentionConfig:
    content: ContentRetention = ContentRetention()
    # Not pruned yet: the audit log is a hash chain (see gateway.store.retention).
    audit_log: timedelta = timedelta(days=3650)
    # Files in an outgoing folder's done/ (hotline exports hold callers' names and phones).
    done_files: timedelta = timedelta(days=7)
    # How often the sweep runs; the first runs at start.
    sweep_interval: timedelta = timedelta(hours=1)
    # Attachment streams no message names (uploads never sent, streams whose envelope never
    # came, copies of a refused submission), deleted once this old. Linked ones never.
    unreferenced_attachments: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class LimitsConfig:
    max_envelope_bytes: int = 1024**2
    max_batch_bytes: int = 16 * 1024**2
    # Envelopes per federation request, refused before any crypto: bounds the work and the
    # size of the answer of one request. Equal to the sender's default batch size.
    max_envelopes_per_batch: int = 100
    max_clock_skew: timedelta = timedelta(minutes=5)
    # One attachment stream (docs/PROTOCOL.md 7.4), encrypted bytes: 413 attachment_too_large.
    max_attachment_bytes: int = 100 * 1024**2
    # What one peer may hold in attachment streams no envelope names yet: 413
    # attachment_quota_exceeded for a stream that would pass it.
    max_pending_attachment_bytes_per_peer: int = 1024**3
    # An offline bundle file (docs/PROTOCOL.md 15), refused before it is read whole, and
    # the items in one, refused once it is open (the count is inside the ciphertext).
    max_bundle_bytes: int = 256 * 1024**2
    max_bundle_items: int = 10_000


@dataclass(frozen=True)
class ConsoleConfig:
    """Sessions and sign-in of the console (section `console:`)."""

    # A session unused this long ends (a screen left open at a shared desk).
    session_idle_timeout: timedelta = timedelta(minutes=30)
    # A session ends this long after its sign-in, however busy: a stolen cookie is not
    # good for ever.
    session_lifetime: timedelta = timedelta(hours=12)
    # Failed sign-ins in a row after which the account is locked for lockout_duration.
    lockout_after_failures: int = 5
    lockout_duration: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class LoggingConfig:
    """How the node logs (section `logging:`; gateway/ops/logs.py)."""

    format: LogFormat = "json"
    level: LogLevel = "info"
    # A logging.config dictConfig file (YAML or JSON), already read once by the loader; when
    # set it decides handlers, formatters and levels, and `format`/`level` are not allowed.
    config_file: Path | None = None


@dataclass(frozen=True)
class CheckpointsConfig:
    """When audit checkpoints go to every peer (docs/PROTOCOL.md section 16)."""

    # At least this often (when the chain grew at all)...
    every: timedelta = timedelta(hours=1)
    # ...and sooner once this many entries accrued; also the most one checkpoint covers
    # (more make several). At most 4096, the protocol's bound.
    after_entries: int = 1000


@dataclass(frozen=True)
class AuditConfig:
    """The audit log (section `audit:`)."""

    checkpoints: CheckpointsConfig = CheckpointsConfig()


DEFAULT_DATABASE = DatabaseConfig()
DEFAULT_PEER_TLS = PeerTlsConfig()
DEFAULT_RATE_LIMIT = RateLimitConfig()
DEFAULT_RETRY = RetryConfig()
DEFAULT_RETENTION = RetentionConfig()
DEFAULT_LIMITS = LimitsConfig()
DEFAULT_CONSOLE = ConsoleConfig()
DEFAULT_LOGGING = LoggingConfig()
DEFAULT_AUDIT = AuditConfig()
DEFAULT_LISTENER_LIMITS = ListenerLimits()
# Relative to the config file's directory, like every other path in the file.
DEFAULT_STATE_DIR = Path("state")


@dataclass(frozen=True)
class NodeConfig:
    """One gateway node's whole configuration, loaded from one YAML file."""

    config_file: Path
    node: NodeIdentity
    keys: tuple[OwnKeyConfig, ...]
    listen: ListenConfig
    database: DatabaseConfig
    state_dir: Path
    peers: tuple[PeerConfig, ...]
    local_clients: tuple[LocalClientConfig, ...]
    retry: RetryConfig
    retention: RetentionConfig
    limits: LimitsConfig
    # Last, with a default, so that code constructing a NodeConfig by keyword keeps working.
    routing: tuple[RoutingRule, ...] = ()
    console: ConsoleConfig = DEFAULT_CONSOLE
    logging: LoggingConfig = DEFAULT_LOGGING
    # Which sent messages need a person's acknowledgement, within how long (section
    # `acknowledgements:`, gateway/config/acknowledgements.py).
    acknowledgements: tuple[AcknowledgementRule, ...] = DEFAULT_ACKNOWLEDGEMENTS
    # Audit checkpoints held by peers (section `audit:`, gateway/config/audit.py).
    audit: AuditConfig = DEFAULT_AUDIT

    def peer(self, peer_id: str) -> PeerConfig | None:
        return next((peer for peer in self.peers if peer.id == peer_id), None)

"""A node's configuration: one YAML file in, one frozen, checked `NodeConfig` out.

The rest of the gateway imports from here only. A node refuses to start on a bad file rather
than run half-configured: every exchange it makes is with police agencies across a border,
and a wrong key, kind or URL is better caught by the operator at the console than by a peer.
`load_config` therefore checks everything it can without the network (key files included)
and reports all problems in one `ConfigError`, one line each, `FILE:LINE: KEY: MESSAGE`.

The text formats of keys (public key strings, private key files, public key snippets for
peers) live here too, so that the CLI that writes them and the loader that reads them share
one definition.
"""

from __future__ import annotations

from gateway.config.issues import ConfigError, ConfigIssue
from gateway.config.keyfiles import (
    PRIVATE_KEY_FORMAT,
    KeyAlgorithm,
    KeyFileError,
    PrivateKeyMaterial,
    format_key,
    format_private_key_file,
    format_public_keys_snippet,
    parse_private_key_file,
    parse_public_key,
)
from gateway.config.listen import is_loopback_host
from gateway.config.loader import load_config
from gateway.config.schema import (
    DEFAULT_CONSOLE,
    DEFAULT_LIMITS,
    DEFAULT_LOGGING,
    DELIVERY_TYPES,
    KINDS,
    LANGUAGES,
    ApiListenConfig,
    ConsoleConfig,
    ContentRetention,
    DatabaseConfig,
    DeliveryType,
    DropFolderDelivery,
    FederationListenConfig,
    Language,
    LimitsConfig,
    ListenConfig,
    ListenerLimits,
    LocalClientConfig,
    LocalizedNames,
    LoggingConfig,
    NodeConfig,
    NodeIdentity,
    OutgoingFolder,
    OwnKeyConfig,
    PeerConfig,
    PeerKeyConfig,
    PeerTlsConfig,
    RateLimitConfig,
    RetentionConfig,
    RetryConfig,
    RoutingRule,
    ServerTlsConfig,
    WebhookDelivery,
)
from gateway.config.values import (
    format_duration,
    format_instant,
    parse_duration,
    parse_instant,
    parse_size,
)
from gateway.wire import Kind

__all__ = [
    "DEFAULT_CONSOLE",
    "DEFAULT_LIMITS",
    "DEFAULT_LOGGING",
    "DELIVERY_TYPES",
    "KINDS",
    "LANGUAGES",
    "PRIVATE_KEY_FORMAT",
    "ApiListenConfig",
    "ConfigError",
    "ConfigIssue",
    "ConsoleConfig",
    "ContentRetention",
    "DatabaseConfig",
    "DeliveryType",
    "DropFolderDelivery",
    "FederationListenConfig",
    "KeyAlgorithm",
    "KeyFileError",
    "Kind",
    "Language",
    "LimitsConfig",
    "ListenConfig",
    "ListenerLimits",
    "LocalClientConfig",
    "LocalizedNames",
    "LoggingConfig",
    "NodeConfig",
    "NodeIdentity",
    "OutgoingFolder",
    "OwnKeyConfig",
    "PeerConfig",
    "PeerKeyConfig",
    "PeerTlsConfig",
    "PrivateKeyMaterial",
    "RateLimitConfig",
    "RetentionConfig",
    "RetryConfig",
    "RoutingRule",
    "ServerTlsConfig",
    "WebhookDelivery",
    "format_duration",
    "format_instant",
    "format_key",
    "format_private_key_file",
    "format_public_keys_snippet",
    "is_loopback_host",
    "load_config",
    "parse_duration",
    "parse_instant",
    "parse_private_key_file",
    "parse_public_key",
    "parse_size",
]

"""Reading the peers section: each peer's URL, keys, TLS, kinds, rate limit and redactions.

`configured_peer` lives here too: local clients' outgoing folders and routing rules name
peers, and both check the name against the peers read here (and what each one accepts).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from urllib.parse import urlsplit

from gateway.config.converters import (
    boolean,
    choice,
    instant,
    integer_in,
    positive_number,
    sequence_of,
    text,
    text_matching,
)
from gateway.config.identity import check_validity, country_code, read_names
from gateway.config.keyfiles import (
    KeyAlgorithm,
    parse_public_key,
)
from gateway.config.listen import (
    LOOPBACK_HOSTS,
    MUTUAL_TLS_WAIVER,
    existing_file,
    is_host,
    is_loopback_host,
    private_file,
    spki_sha256,
)
from gateway.config.schema import (
    DEFAULT_PEER_TLS,
    DEFAULT_RATE_LIMIT,
    KEY_ID_PATTERN,
    KINDS,
    NODE_ID_PATTERN,
    FederationListenConfig,
    PeerConfig,
    PeerKeyConfig,
    PeerTlsConfig,
    RateLimitConfig,
)
from gateway.config.walker import Value
from gateway.wire import Kind, canonical

# Peers


def http_url(value: Value) -> str:
    """An https:// URL, or http:// to a loopback host; returned as written."""
    url = value.scalar_text("an https:// or http:// URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        value.expected("an https:// or http:// URL with a valid host and port")
    if parts.username is not None or parts.password is not None:
        # Checked first and not echoed: the URL holds a password.
        value.fail("expected a URL without a user name or password")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        value.expected("an https:// or http:// URL")
    if not is_host(parts.hostname):
        value.expected("an https:// or http:// URL with a valid host name or IP address")
    if port == 0:
        value.expected("a URL with a port number from 1 to 65535")
    if parts.query or parts.fragment:
        value.expected("a URL without ?query or #fragment")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        value.expected(f"an https:// URL (http:// is allowed only for {LOOPBACK_HOSTS})")
    return url


def _peer_url(value: Value) -> str:
    url = http_url(value)
    return url if url.endswith("/") else f"{url}/"


def _public_key(algorithm: KeyAlgorithm) -> Callable[[Value], bytes]:
    def convert(value: Value) -> bytes:
        try:
            return parse_public_key(value.scalar_text(f"{algorithm}:<base64>"), algorithm)
        except ValueError as error:
            value.fail(str(error))

    return convert


def _read_peer_key(value: Value) -> PeerKeyConfig:
    r = value.mapping()
    key_id = r.required("id", text_matching(KEY_ID_PATTERN, "a key id"))
    signing_public_key = r.required("signing_public_key", _public_key("ed25519"))
    encryption_public_key = r.required("encryption_public_key", _public_key("x25519"))
    valid_from = r.required("valid_from", instant)
    valid_until = r.required("valid_until", instant)
    check_validity(r, valid_from, valid_until)
    r.finish()
    return PeerKeyConfig(
        id=key_id,
        signing_public_key=signing_public_key,
        encryption_public_key=encryption_public_key,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def read_kinds(value: Value) -> frozenset[Kind]:
    return frozenset(sequence_of(choice(KINDS), item="message kind")(value))


def _read_peer_tls(value: Value, verifies_clients: bool | None, waived: bool) -> PeerTlsConfig:
    r = value.mapping()
    tls = PeerTlsConfig(
        ca_file=r.optional("ca_file", existing_file, None),
        client_cert_file=r.optional("client_cert_file", existing_file, None),
        client_key_file=r.optional("client_key_file", private_file, None),
        mutual=r.optional("mutual", boolean, verifies_clients is not False),
        spki_sha256=r.optional(
            "spki_sha256", sequence_of(spki_sha256, item="SPKI digest", min_items=1), ()
        ),
    )
    for present, absent in (
        ("client_cert_file", "client_key_file"),
        ("client_key_file", "client_cert_file"),
    ):
        if r.has(present) and not r.has(absent):
            r.report(
                present, f"expected {absent} too: a client certificate and its key come together"
            )
    if r.ok("mutual") and tls.mutual and verifies_clients is False:
        r.report(
            "mutual",
            "expected listen.federation.tls.client_ca_file to be set: it verifies the client "
            "certificate that mutual: true requires from this peer",
        )
    elif r.ok("mutual") and not tls.mutual and not waived and verifies_clients is not None:
        r.report(
            "mutual",
            "expected true (the default): without a client certificate any host could claim "
            f"this peer; only listen.federation.{MUTUAL_TLS_WAIVER} (loopback) turns it off",
        )
    r.finish()
    return tls


def _read_rate_limit(value: Value, per_batch: int | None) -> RateLimitConfig:
    r = value.mapping()
    rate_limit = RateLimitConfig(
        requests_per_second=r.optional(
            "requests_per_second", positive_number, DEFAULT_RATE_LIMIT.requests_per_second
        ),
        burst=r.optional("burst", integer_in(1, 1_000_000), DEFAULT_RATE_LIMIT.burst),
        envelopes_per_second=r.optional(
            "envelopes_per_second", positive_number, DEFAULT_RATE_LIMIT.envelopes_per_second
        ),
        envelope_burst=r.optional(
            "envelope_burst", integer_in(1, 100_000_000), DEFAULT_RATE_LIMIT.envelope_burst
        ),
    )
    # A bucket smaller than a full batch would refuse that batch forever.
    if per_batch is not None and r.ok("envelope_burst") and rate_limit.envelope_burst < per_batch:
        r.report(
            "envelope_burst",
            f"expected at least limits.max_envelopes_per_batch ({per_batch}), "
            f"got {rate_limit.envelope_burst}",
        )
    r.finish()
    return rate_limit


def read_peer(
    value: Value,
    node_id: str | None,
    listener: FederationListenConfig | None,
    per_batch: int | None,
) -> PeerConfig:
    r = value.mapping()
    peer_id = r.required("id", text_matching(NODE_ID_PATTERN, "a node id"))
    if r.ok("id") and peer_id == node_id:
        r.report("id", f"expected the id of another node, got this node's own id {node_id!r}")
    names = r.required("names", read_names)
    country = r.required("country", country_code)
    url = r.required("url", _peer_url)
    # Mutual TLS by default, unless the listener cannot verify client certificates (waived).
    verifies_clients = (
        None
        if listener is None
        else listener.tls is not None and listener.tls.client_ca_file is not None
    )
    waived = listener is not None and listener.insecure_no_mutual_tls
    tls = r.optional(
        "tls",
        lambda tls: _read_peer_tls(tls, verifies_clients, waived),
        replace(DEFAULT_PEER_TLS, mutual=verifies_clients is not False),
    )
    keys = r.required(
        "keys",
        sequence_of(
            _read_peer_key,
            item="public key pair",
            min_items=1,
            unique_by=[("id", lambda key: key.id)],
        ),
    )
    send = r.required("send", read_kinds)
    receive = r.required("receive", read_kinds)
    rate_limit = r.optional(
        "rate_limit", lambda item: _read_rate_limit(item, per_batch), DEFAULT_RATE_LIMIT
    )
    if (
        not r.has("rate_limit")
        and per_batch is not None
        and DEFAULT_RATE_LIMIT.envelope_burst < per_batch
    ):
        # The default bucket is smaller than a full batch: that batch would be refused forever.
        r.report(
            "rate_limit",
            f"expected a rate_limit section with an envelope_burst of at least "
            f"limits.max_envelopes_per_batch ({per_batch}): the default burst "
            f"({DEFAULT_RATE_LIMIT.envelope_burst}) is smaller than one batch",
        )
    redact: tuple[str, ...] = r.optional("redact", sequence_of(_field_path, item="field path"), ())
    r.finish()
    return PeerConfig(
        id=peer_id,
        names=names,
        country=country,
        url=url,
        tls=tls,
        keys=keys,
        send=send,
        receive=receive,
        rate_limit=rate_limit,
        redact=redact,
    )


# The fields of a body's messages can be named down to their leaves; google.protobuf types
# (Timestamp) are leaves themselves.
_CANONICAL_PACKAGE = canonical.DESCRIPTOR.package
_BODY_FIELDS = canonical.Message.DESCRIPTOR.oneofs_by_name["body"].fields


def _field_path(value: Value) -> str:
    """A dotted path of canonical field names from a body field, checked against blg.v1."""
    expected = "a canonical field path such as hotline_alert.caller"
    field_path = value.scalar_text(expected)
    names = field_path.split(".")
    if not all(names):
        value.expected(f"{expected} (field names joined by single dots)")
    fields = {field.name: field for field in _BODY_FIELDS}
    parent = "a body field of blg.v1.Message"
    for depth, name in enumerate(names):
        if not fields:
            value.fail(
                f"unknown field {name!r} in {field_path}: {'.'.join(names[:depth])} has no "
                "fields; expected the path to end there"
            )
        if name not in fields:
            value.fail(
                f"unknown field {name!r} in {field_path}; expected {parent}: {', '.join(fields)}"
            )
        message_type = fields[name].message_type
        parent = f"a field of {'.'.join(names[: depth + 1])}"
        fields = (
            dict(message_type.fields_by_name)
            if message_type is not None and message_type.file.package == _CANONICAL_PACKAGE
            else {}
        )
    if len(names) == 1:
        value.fail(
            f"expected a field inside {field_path}, such as {field_path}.{next(iter(fields))}: "
            f"to send no {field_path} to this peer, leave it out of the peer's send list"
        )
    return field_path


def configured_peer(
    peers: Mapping[str, PeerConfig] | None,
    kinds: frozenset[Kind] | None = None,
    kinds_written: bool = True,
) -> Callable[[Value], str]:
    """The id of a configured peer that accepts every one of `kinds` (None: any kinds)."""

    def convert(value: Value) -> str:
        peer_id = text(value)
        if peers is None:
            return peer_id
        peer = peers.get(peer_id)
        if peer is None:
            known = ", ".join(peers) if peers else "(none: the peers section lists none)"
            value.fail(f"unknown peer {peer_id!r}; expected one of the configured peers: {known}")
        refused = [kind for kind in KINDS if kinds is not None and kind in kinds - peer.send]
        if refused:
            names = ", ".join(refused)
            them = "it" if len(refused) == 1 else "them"
            if kinds_written:
                value.fail(
                    f"{peer_id} does not accept {names} from this node: add {them} to the "
                    f"peer's send list or remove {them} from this rule's kinds"
                )
            value.fail(
                f"{peer_id} does not accept {names} from this node, and a rule without kinds "
                f"routes every kind: add {them} to the peer's send list or give this rule kinds"
            )
        return peer_id

    return convert

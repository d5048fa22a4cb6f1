"""Reading the local_clients section: each client's token, kinds, delivery and outgoing folders.

The folders of every client are collected across the section (`folders`) so that two
clients, or a delivery and an outgoing folder, never share one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from gateway.config.converters import boolean, choice, duration, path, sequence_of, text_matching
from gateway.config.listen import (
    read_token_sha256,
)
from gateway.config.peers import configured_peer, http_url, read_kinds
from gateway.config.schema import (
    CLIENT_ID_PATTERN,
    DEFAULT_POLL_INTERVAL,
    DELIVERY_TYPES,
    FORMAT_ID_PATTERN,
    MIN_HMAC_SECRET_CHARS,
    DropFolderDelivery,
    LocalClientConfig,
    OutgoingFolder,
    PeerConfig,
    WebhookDelivery,
)
from gateway.config.walker import MappingReader, Rejected, Value

# Local clients

# Owns what officers attach in the console (gateway.console.uploads.CONSOLE_OWNER): a client
# of that id could name, and send, the files officers staged.
RESERVED_CLIENT_IDS = frozenset({"console"})


def _client_id(value: Value) -> str:
    client_id = text_matching(CLIENT_ID_PATTERN, "a client id")(value)
    if client_id in RESERVED_CLIENT_IDS:
        value.expected(
            f"a client id other than {', '.join(sorted(RESERVED_CLIENT_IDS))} (reserved)"
        )
    return client_id


def read_local_client(
    value: Value,
    peers: Mapping[str, PeerConfig] | None,
    folders: dict[Path, tuple[str, int]],
) -> LocalClientConfig:
    r = value.mapping()
    client_id = r.required("id", _client_id)
    token_sha256 = r.required("token_sha256", read_token_sha256)
    formats = r.required(
        "formats",
        sequence_of(text_matching(FORMAT_ID_PATTERN, "a format id"), item="format id", min_items=1),
    )
    kinds = r.required("kinds", read_kinds)
    # None when formats failed: then the formats named below are not judged against them.
    known_formats = formats if r.ok("formats") else None
    delivery = r.optional(
        "delivery", lambda item: _read_delivery(item, known_formats, folders), None
    )
    outgoing_folder = r.optional(
        "outgoing_folder",
        lambda item: _read_outgoing_folder(item, known_formats, peers, folders),
        None,
    )
    victim_protected = r.optional("victim_protected", boolean, False)
    r.finish()
    return LocalClientConfig(
        id=client_id,
        token_sha256=token_sha256,
        formats=formats,
        kinds=kinds,
        delivery=delivery,
        outgoing_folder=outgoing_folder,
        victim_protected=victim_protected,
    )


def _client_format(r: MappingReader, formats: tuple[str, ...] | None, *, required: bool) -> str:
    """The `format` key of a delivery or outgoing folder: one of the client's formats."""
    convert = text_matching(FORMAT_ID_PATTERN, "a format id")
    if required:
        chosen = r.required("format", convert)
    else:
        # "" only when the client's formats failed, and then the client fails with them.
        chosen = r.optional("format", convert, formats[0] if formats else "")
    if r.ok("format") and formats is not None and chosen not in formats:
        r.report(
            "format",
            f"expected one of this client's formats ({', '.join(formats)}), got {chosen!r}",
        )
    return chosen


def _folder(folders: dict[Path, tuple[str, int]]) -> Callable[[Value], Path]:
    """A directory the gateway creates at start if absent; each may serve one purpose only."""

    def convert(value: Value) -> Path:
        folder = path(value)
        # os.path, not Path.is_dir(): it answers False instead of raising on permission errors.
        if os.path.exists(folder) and not os.path.isdir(folder):
            value.fail(f"expected a directory, {folder} exists and is not a directory")
        if folder in folders:
            # A client's drop folder read back as an outgoing folder would send every
            # incoming message on; two clients in one folder would take each other's files.
            first, line = folders[folder]
            value.fail(
                f"expected a directory of its own, got {folder}, which {first} at line {line} "
                "already uses"
            )
        folders[folder] = (value.path, value.line)
        return folder

    return convert


def _hmac_secret(value: Value) -> bytes:
    secret = value.scalar_text(f"a secret of at least {MIN_HMAC_SECRET_CHARS} characters")
    if len(secret) < MIN_HMAC_SECRET_CHARS:
        # Never echoed, not even in part.
        value.fail(
            f"expected a secret of at least {MIN_HMAC_SECRET_CHARS} characters, such as the "
            f"output of `openssl rand -base64 32`, got {len(secret)} characters"
        )
    return secret.encode("utf-8")


def _read_delivery(
    value: Value, formats: tuple[str, ...] | None, folders: dict[Path, tuple[str, int]]
) -> WebhookDelivery | DropFolderDelivery:
    r = value.mapping()
    delivery_type = r.required("type", choice(DELIVERY_TYPES))
    delivery: WebhookDelivery | DropFolderDelivery | None = None
    if not r.ok("type"):
        # The shape is unknown: the keys of every shape pass, so that the broken type is the
        # one issue.
        r.expect("url", "hmac_secret", "path", "format")
    elif delivery_type == "webhook":
        url = r.required("url", http_url)
        hmac_secret = r.required("hmac_secret", _hmac_secret)
        delivery_format = _client_format(r, formats, required=False)
        delivery = WebhookDelivery(url=url, hmac_secret=hmac_secret, format=delivery_format)
    else:
        folder = r.required("path", _folder(folders))
        delivery_format = _client_format(r, formats, required=False)
        delivery = DropFolderDelivery(path=folder, format=delivery_format)
    r.finish()
    if delivery is None:  # the type failed, so finish() has raised already
        raise Rejected
    return delivery


def _read_outgoing_folder(
    value: Value,
    formats: tuple[str, ...] | None,
    peers: Mapping[str, PeerConfig] | None,
    folders: dict[Path, tuple[str, int]],
) -> OutgoingFolder:
    r = value.mapping()
    outgoing = OutgoingFolder(
        path=r.required("path", _folder(folders)),
        format=_client_format(r, formats, required=True),
        # An empty list is the default too: the routing rules decide.
        to=r.optional("to", sequence_of(configured_peer(peers), item="peer id"), ()),
        poll_interval=r.optional("poll_interval", duration, DEFAULT_POLL_INTERVAL),
    )
    r.finish()
    return outgoing

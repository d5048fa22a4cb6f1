"""The one writer of node configs: `gateway init`, `gateway peers add`, key rollover, and the
demo, test and benchmark federations all write YAML through here.

Design note. A config is a document people read and annotate, so it is written from a
commented template (`render_node_config`) and later edited round-trip (ruamel.yaml), which
keeps every comment, key order and quoting an operator put there; PyYAML's dump would drop
them. Instants are written as `2026-11-23T00:00:00Z`, lists of mappings in block style with
the dash indented under their key, as in config/*.yaml, and no line is ever folded (a
certificate or key stays on one line).

Every edit follows one path (`edit_config`): read the file, change the document in memory,
write it atomically (temporary file, fsync, rename; 0600), then load it with the same
`load_config` the node runs. If the result does not pass, the previous bytes are put back
and the `ConfigError` is raised: a failed `peers add` never leaves a config that would stop
the node at its next start. A fresh config (`write_node_config`) is created exclusively and
never overwrites one; it is removed again if it does not load.

Callers with settings of their own (the harness's rate limits and TLS variants, the bench's
batch sizes, the demo's local clients) pass them as overlays: mappings merged into the
rendered document (`merge_overlay`), so that there is no second way of writing a config.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.representer import RoundTripRepresenter

from gateway.config.acknowledgements import DEFAULT_ACKNOWLEDGEMENTS
from gateway.config.issues import ConfigError
from gateway.config.keyfiles import format_key
from gateway.config.loader import load_config
from gateway.config.schema import DEFAULT_AUDIT, KINDS, NodeConfig, PeerKeyConfig
from gateway.config.values import format_duration, format_instant
from gateway.ops.private_files import replace_private, write_new_private

# Every kind both ways unless the operator narrows it: route policy (redactions, the
# caller never leaving Vietnam) applies on top whatever is listed here.
DEFAULT_KINDS: tuple[str, ...] = tuple(str(kind) for kind in KINDS)


@dataclass(frozen=True)
class OwnKeyEntry:
    """One entry of the config's own `keys:` list."""

    id: str
    # As written in the config: relative to the config file's folder, or absolute.
    private_key_file: str
    valid_from: datetime
    valid_until: datetime


@dataclass(frozen=True)
class ServerTlsFiles:
    cert_file: str
    key_file: str
    client_ca_file: str | None = None


@dataclass(frozen=True)
class NodeSettings:
    """What a node's config is made of; the rest comes from overlays."""

    node_id: str
    names: Mapping[str, str]
    country: str
    keys: Sequence[OwnKeyEntry]
    federation_host: str
    federation_port: int
    api_host: str
    api_port: int
    # None: plain HTTP with mutual TLS waived by name (the loader allows it on loopback only).
    federation_tls: ServerTlsFiles | None
    api_tls: ServerTlsFiles | None = None
    metrics_token_sha256: str | None = None
    # None: an embedded PostgreSQL in state_dir.
    dsn: str | None = None
    state_dir: str | None = "state"
    province: str | None = None
    # The first comment line: who wrote this file.
    written_by: str = "gateway init"


@dataclass(frozen=True)
class PeerEntry:
    """One entry of `peers:`; None fields are left as they are when the peer is updated."""

    id: str
    names: Mapping[str, str]
    country: str
    url: str
    keys: Sequence[PeerKeyConfig]
    send: Sequence[str] | None = None
    receive: Sequence[str] | None = None
    spki_sha256: Sequence[str] = ()
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    mutual: bool | None = None
    # Further settings of the entry (rate_limit, redact...), merged over it.
    overlay: Mapping[str, Any] | None = None


def _yaml() -> YAML:
    yaml = YAML()  # round-trip
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.preserve_quotes = True
    yaml.Representer = _Representer
    return yaml


class _Representer(RoundTripRepresenter):
    pass


def _represent_instant(representer: RoundTripRepresenter, instant: datetime) -> Any:  # noqa: ANN401
    return representer.represent_scalar("tag:yaml.org,2002:timestamp", format_instant(instant))


def _represent_none(representer: RoundTripRepresenter, _value: None) -> Any:  # noqa: ANN401
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


_Representer.add_representer(datetime, _represent_instant)
_Representer.add_representer(type(None), _represent_none)


def _dump(document: object) -> str:
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    return buffer.getvalue()


def _quote(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is a subset of it)."""
    return json.dumps(text, ensure_ascii=False)


def render_node_config(
    settings: NodeSettings,
    peers: Iterable[PeerEntry] = (),
    overlay: Mapping[str, Any] | None = None,
) -> str:
    """The config's text: the commented template, its peers, then the overlay merged in."""
    document = _yaml().load(_template(settings))
    for peer in peers:
        _put_peer(document, peer)
    if overlay:
        merge_overlay(document, overlay)
    return _dump(document)


def write_node_config(
    path: Path,
    settings: NodeSettings,
    peers: Iterable[PeerEntry] = (),
    overlay: Mapping[str, Any] | None = None,
    *,
    replace: bool = False,
    environ: Mapping[str, str] | None = None,
) -> NodeConfig:
    """Write a config (0600; FileExistsError if one is there, unless replace) and load it.

    A config that does not load is removed (or the replaced one put back) before the
    ConfigError is raised."""
    text = render_node_config(settings, peers, overlay).encode()
    previous = path.read_bytes() if replace and path.exists() else None
    if replace:
        replace_private(path, text)
    else:
        write_new_private(path, text)
    try:
        return load_config(path, environ=environ)
    except ConfigError:
        if previous is None:
            path.unlink()
        else:
            replace_private(path, previous)
        raise


def edit_config(
    path: Path,
    edit: Callable[[CommentedMap], None],
    *,
    environ: Mapping[str, str] | None = None,
) -> NodeConfig:
    """Apply edit to the document of path, write it atomically, and load it; on a
    ConfigError the previous file is restored before it is raised."""
    previous = path.read_bytes()
    document = _yaml().load(previous)
    if not isinstance(document, CommentedMap):
        document = CommentedMap()
    edit(document)
    replace_private(path, _dump(document).encode())
    try:
        return load_config(path, environ=environ)
    except ConfigError:
        replace_private(path, previous)
        raise


def add_own_key(
    config_file: Path, key_entry: OwnKeyEntry, *, environ: Mapping[str, str] | None = None
) -> NodeConfig:
    """Add (or replace, by id) one of the node's own key pairs in its `keys:` list."""

    def edit(document: CommentedMap) -> None:
        keys = _block_list(document, "keys")
        entry = {
            "id": key_entry.id,
            "private_key_file": key_entry.private_key_file,
            "valid_from": key_entry.valid_from,
            "valid_until": key_entry.valid_until,
        }
        for index, existing in enumerate(keys):
            if isinstance(existing, Mapping) and existing.get("id") == key_entry.id:
                keys[index] = entry
                return
        keys.append(entry)

    return edit_config(config_file, edit, environ=environ)


def add_peer(
    config_file: Path, peer: PeerEntry, *, environ: Mapping[str, str] | None = None
) -> tuple[bool, NodeConfig]:
    """Add peer, or update the entry with its id; (whether it was new, the loaded config)."""
    added = False

    def edit(document: CommentedMap) -> None:
        nonlocal added
        added = _put_peer(document, peer)

    config = edit_config(config_file, edit, environ=environ)
    return added, config


def _put_peer(document: CommentedMap, peer: PeerEntry) -> bool:
    peers = _block_list(document, "peers")
    entry = next(
        (item for item in peers if isinstance(item, CommentedMap) and item.get("id") == peer.id),
        None,
    )
    added = entry is None
    if entry is None:
        entry = CommentedMap()
        peers.append(entry)
    entry["id"] = peer.id
    entry["names"] = dict(peer.names)
    entry["country"] = peer.country
    entry["url"] = peer.url
    tls = {
        "ca_file": peer.ca_file,
        "client_cert_file": peer.client_cert_file,
        "client_key_file": peer.client_key_file,
        "mutual": peer.mutual,
        "spki_sha256": list(peer.spki_sha256) or None,
    }
    if any(value is not None for value in tls.values()):
        existing_tls = entry.get("tls")
        if not isinstance(existing_tls, CommentedMap):
            existing_tls = CommentedMap()
            entry["tls"] = existing_tls
        existing_tls.update({key: value for key, value in tls.items() if value is not None})
    entry["keys"] = [
        {
            "id": key.id,
            "signing_public_key": format_key("ed25519", key.signing_public_key),
            "encryption_public_key": format_key("x25519", key.encryption_public_key),
            "valid_from": key.valid_from,
            "valid_until": key.valid_until,
        }
        for key in peer.keys
    ]
    for direction, kinds in (("send", peer.send), ("receive", peer.receive)):
        if kinds is not None:
            entry[direction] = _flow(kinds)
        elif direction not in entry:
            entry[direction] = _flow(DEFAULT_KINDS)
    if peer.overlay:
        merge_overlay(entry, peer.overlay)
    return added


def merge_overlay(target: CommentedMap, overlay: Mapping[str, Any]) -> None:
    """Merge overlay into target: mappings key by key, anything else replaced."""
    for key, value in overlay.items():
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, CommentedMap):
            merge_overlay(current, value)
        elif isinstance(value, Mapping):
            fresh = CommentedMap()
            merge_overlay(fresh, value)
            target[key] = fresh
        else:
            target[key] = value


def _block_list(document: CommentedMap, key: str) -> CommentedSeq:
    """document[key] as a block-style list (a `[]` left by the template included)."""
    value = document.get(key)
    if not isinstance(value, CommentedSeq):
        value = CommentedSeq()
        document[key] = value
    value.fa.set_block_style()
    return value


def _flow(items: Iterable[str]) -> CommentedSeq:
    sequence = CommentedSeq(items)
    sequence.fa.set_flow_style()
    return sequence


def _acknowledgements() -> str:
    """The acknowledgements section with the defaults written out, for operators to edit."""
    rules = "".join(
        f"  - kind: {rule.kind.value}\n"
        + (f"    {rule.condition}: {rule.value}\n" if rule.condition else "")
        + f"    within: {format_duration(rule.within)}\n"
        for rule in DEFAULT_ACKNOWLEDGEMENTS
    )
    return (
        "# Sent messages a person at the peer must acknowledge, and within how long (the first\n"
        "# rule that matches wins; [] turns deadlines off). A deadline is fixed when the message\n"
        "# is queued: editing these moves no deadline already running.\n"
        f"acknowledgements:\n{rules}"
    )


def _audit() -> str:
    """The audit section with the defaults written out (docs/PROTOCOL.md section 16)."""
    checkpoints = DEFAULT_AUDIT.checkpoints
    return (
        "# Audit checkpoints: the audit chain's hashes go to every peer, which countersigns\n"
        "# them, so that `gateway audit verify` detects entries deleted or rewritten here.\n"
        "audit:\n"
        "  checkpoints:\n"
        f"    every: {format_duration(checkpoints.every)}\n"
        f"    after_entries: {checkpoints.after_entries}\n"
    )


def _template(s: NodeSettings) -> str:
    """The commented skeleton of a config; comments say why, config/README.md says what."""
    names = "".join(f"    {language}: {_quote(name)}\n" for language, name in s.names.items())
    keys = "".join(
        f"  - id: {key.id}\n"
        f"    private_key_file: {_quote(key.private_key_file)}\n"
        f"    valid_from: {format_instant(key.valid_from)}\n"
        f"    valid_until: {format_instant(key.valid_until)}\n"
        for key in s.keys
    )
    if s.federation_tls is None:
        federation = (
            "  # Plain HTTP with mutual TLS waived by name: allowed on loopback hosts only.\n"
            "  federation:\n"
            f"    host: {_quote(s.federation_host)}\n"
            f"    port: {s.federation_port}\n"
            "    insecure_no_mutual_tls: true\n"
        )
    else:
        tls = s.federation_tls
        federation = (
            "  # The endpoint peers connect to: HTTPS, and mutual TLS when client_ca_file is set.\n"
            "  # cert_file's SPKI SHA-256 is the pin peers write under peers[].tls.spki_sha256;\n"
            "  # client_ca_file holds the certificates that peers' client certificates must chain\n"
            "  # to (`gateway peers add` appends each self-signed peer certificate to it).\n"
            "  federation:\n"
            f"    host: {_quote(s.federation_host)}\n"
            f"    port: {s.federation_port}\n"
            "    tls:\n"
            f"      cert_file: {_quote(tls.cert_file)}\n"
            f"      key_file: {_quote(tls.key_file)}\n"
            + (
                f"      client_ca_file: {_quote(tls.client_ca_file)}\n"
                if tls.client_ca_file
                else ""
            )
            + ("" if tls.client_ca_file else "    insecure_no_mutual_tls: true\n")
        )
    api = (
        "  # The local API, /metrics, /healthz and /readyz: for this agency's own systems only.\n"
        "  api:\n"
        f"    host: {_quote(s.api_host)}\n"
        f"    port: {s.api_port}\n"
    )
    if s.api_tls is not None:
        api += (
            f"    tls:\n      cert_file: {_quote(s.api_tls.cert_file)}\n"
            f"      key_file: {_quote(s.api_tls.key_file)}\n"
        )
    if s.metrics_token_sha256:
        api += (
            "    # SHA-256 of the bearer token Prometheus shows to read /metrics (the token\n"
            "    # itself is in metrics.token beside this file, mode 0600).\n"
            f"    metrics_token_sha256: {_quote(s.metrics_token_sha256)}\n"
        )
    return (
        f"# Config of node {s.node_id}, written by `{s.written_by}`.\n"
        "# config/README.md explains every field; `gateway config check FILE` validates it.\n"
        "# Edit it by hand or with `gateway peers add`, which keeps these comments.\n"
        "node:\n"
        f"  id: {s.node_id}\n"
        "  # Shown to peers and in the console; add vi: and km: as the agency confirms them.\n"
        "  names:\n"
        f"{names}"
        f"  country: {s.country}\n" + (f"  province: {s.province}\n" if s.province else "") + "\n"
        "keys:\n"
        "  # This node's own key pairs; private key files are relative to this file and must\n"
        "  # stay 0600. During a rotation the old and the new key are both listed, overlapping.\n"
        f"{keys}"
        "\n"
        "listen:\n"
        f"{federation}"
        f"{api}"
        "\n"
        "database:\n"
        "  # null: an embedded PostgreSQL in state_dir. A managed PostgreSQL is named without\n"
        "  # writing its password here:  dsn: !env BLG_DATABASE_DSN\n"
        f"  dsn: {_quote(s.dsn) if s.dsn else 'null'}\n"
        + (
            "\n# Queues' files and the embedded database; relative to this file.\n"
            f"state_dir: {_quote(s.state_dir)}\n"
            if s.state_dir
            else ""
        )
        + "\n"
        + _acknowledgements()
        + "\n"
        + _audit()
        + "\n"
        "# The agencies this node exchanges with. Add one from the public file it sends you:\n"
        "#   gateway peers add --config THIS-FILE PEER.public.yaml\n"
        "peers: []\n"
    )


def config_folder(config_file: Path) -> Path:
    """The folder relative paths in config_file are resolved against."""
    return Path(os.path.abspath(config_file)).parent

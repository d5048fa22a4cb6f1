"""`gateway keys rotate` and `gateway peers import-key`: key rollover from the command line.

`keys rotate` only writes files: the next key pair (the code of `keys generate`), and the
config's `keys:` through the one config writer (round-trip, comments kept, checked, put back
if the result does not load), with the current key ending `--overlap` after the new one
begins. The node, running or at its next start, notices the new key and announces it to
every peer under the current one (gateway.federation.rollover); no database access here, so
a rotation works the same whether the node is up or down.

`peers import-key` is the manual path for a peer that cannot announce (or whose announcement
this node refused): it records the keys of the peer's public file in the database, where the
running node picks them up within seconds, exactly as if they had been announced. `peers
keys` lists every peer key, configured or recorded, with its state (pending, active).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml.comments import CommentedMap

from gateway.cli.common import add_config_argument, fail, on_store, with_config
from gateway.config import ConfigError, NodeConfig, OwnKeyConfig
from gateway.config.keyfiles import parse_public_key
from gateway.config.node_setup import generate_own_key
from gateway.config.public_file import PublicFileError, parse_public_file
from gateway.config.schema import KEY_ID_PATTERN, PeerKeyConfig
from gateway.config.values import format_instant, parse_duration, parse_instant, to_utc
from gateway.config.writer import config_folder, edit_config
from gateway.crypto import KeyValidity
from gateway.ops.private_files import UnsafePath
from gateway.store.peer_keys import PublishedKeyRow


def register_rotate(actions: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    rotate = actions.add_parser(
        "rotate",
        help="add the next key pair; the node announces it to every peer",
        description="Generate the next key pair beside the current one (mode 0600), add it to "
        "the config's keys: and end the current key --overlap after the new one begins. The "
        "node, running or at its next start, announces the new public key to every peer, "
        "signed by the current key.",
    )
    add_config_argument(rotate)
    rotate.add_argument(
        "--overlap",
        default="7d",
        help="how long the current key stays valid after the new one begins (default 7d)",
    )
    rotate.add_argument(
        "--valid-for", default="365d", help="validity of the new key (default 365d)"
    )
    rotate.add_argument(
        "--valid-from", default=None, help="start of the new key, ISO 8601 with a zone; default now"
    )
    rotate.add_argument("--key-id", default=None, help="default k<YYYYMMDD> of --valid-from")
    rotate.set_defaults(handler=with_config(run_rotate))


def register_peer_key_commands(actions: Any) -> None:  # noqa: ANN401 - argparse's subparsers type is private
    listing = actions.add_parser(
        "keys",
        help="every peer's keys: configured, and recorded from announcements or imports",
        description="One line per peer key: where it comes from (config, announcement, "
        "import), its state (configured, pending until its valid_from, active) and window.",
    )
    add_config_argument(listing)
    listing.set_defaults(handler=with_config(run_peer_keys))
    imported = actions.add_parser(
        "import-key",
        help="record a peer's new public keys from its public file, without a restart",
        description="Record the keys of PUBLIC_FILE (the peer's public file, or the keys file "
        "`keys rotate` wrote, with --peer) in the database; the running node uses them from "
        "their valid_from, as if announced.",
    )
    add_config_argument(imported)
    imported.add_argument(
        "--peer",
        default=None,
        help="the peer's id, for a keys file (<key id>.public.yaml of `keys rotate`), which "
        "names no node; a public file names its own",
    )
    imported.add_argument("public_file", type=Path, metavar="PUBLIC_FILE")
    imported.set_defaults(handler=with_config(run_import_key))


def _as_written(path: Path, config_file: Path) -> str:
    """A key file's path as the config should name it: relative to the config's folder when
    inside it, as `gateway init` writes them."""
    folder = config_folder(config_file)
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(folder))
    except ValueError:
        return str(absolute)


def _current_key(config: NodeConfig, at: datetime) -> OwnKeyConfig | None:
    valid = [key for key in config.keys if key.valid_at(at)]
    return max(valid, key=lambda key: (key.valid_from, key.id), default=None)


def _free_key_id(config: NodeConfig, base: str) -> str:
    taken = {key.id for key in config.keys}
    if base not in taken:
        return base
    return next(
        f"{base}{suffix}"
        for suffix in "bcdefghijklmnopqrstuvwxyz"
        if f"{base}{suffix}" not in taken
    )


def run_rotate(args: argparse.Namespace, config: NodeConfig) -> int:
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        valid_from = parse_instant(args.valid_from) if args.valid_from else now
    except ValueError as error:
        return fail("keys rotate", f"--valid-from: {error}")
    durations: dict[str, timedelta] = {}
    for option, text in (("--overlap", args.overlap), ("--valid-for", args.valid_for)):
        try:
            durations[option] = parse_duration(text)
        except ValueError as error:
            return fail("keys rotate", f"{option}: {error}")
    overlap, valid_for = durations["--overlap"], durations["--valid-for"]
    if valid_for <= overlap:
        return fail("keys rotate", "--valid-for: expected a duration longer than --overlap")
    current = _current_key(config, now)
    if current is None:
        return fail(
            "keys rotate",
            "keys: no key is valid now to sign the announcement; add one with `gateway keys "
            "generate` and give its public file to each peer",
        )
    ends = valid_from + overlap
    if ends <= current.valid_from:
        return fail(
            "keys rotate", "--valid-from: expected an instant after the current key's start"
        )
    key_id = args.key_id or _free_key_id(config, f"k{valid_from:%Y%m%d}")
    if any(key.id == key_id for key in config.keys):
        return fail("keys rotate", f"--key-id: {key_id} is in keys: already")
    folder = current.private_key_file.parent
    try:
        generated = generate_own_key(
            config.node.id, folder, key_id, KeyValidity(valid_from, valid_from + valid_for)
        )
    except FileExistsError:
        return fail("keys rotate", f"{folder / (key_id + '.key')} exists; choose another --key-id")
    except (OSError, UnsafePath) as error:
        return fail("keys rotate", f"cannot write to {folder}: {error}")

    def edit(document: CommentedMap) -> None:
        keys = document["keys"]
        for entry in keys:
            if entry.get("id") == current.id and current.valid_until > ends:
                entry["valid_until"] = ends
        keys.append(
            {
                "id": key_id,
                "private_key_file": _as_written(generated.private_key_file, config.config_file),
                "valid_from": generated.validity.valid_from,
                "valid_until": generated.validity.valid_until,
            }
        )

    try:
        edit_config(config.config_file, edit)
    except ConfigError as error:
        # Nothing half-done: the writer has put the config back; the new key goes too.
        generated.private_key_file.unlink(missing_ok=True)
        generated.public_key_file.unlink(missing_ok=True)
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return 1
    print(f"# wrote {generated.private_key_file} (mode 0600; keep it secret, back it up offline)")
    print(f"# wrote {generated.public_key_file}")
    print(
        f"keys: added {key_id}, valid {format_instant(generated.validity.valid_from)} to "
        f"{format_instant(generated.validity.valid_until)}; {current.id} now ends "
        f"{format_instant(min(ends, current.valid_until))}"
    )
    print(
        f"The node announces {key_id} to its {len(config.peers)} peers within seconds (or at "
        "its next start); `gateway outbox list` shows each announcement's receipt. A peer that "
        f"refuses it needs {generated.public_key_file.name} by hand: gateway peers import-key."
    )
    return 0


def _read_keys(path: Path, peer: str | None) -> tuple[str, tuple[PeerKeyConfig, ...]]:
    """(node id, keys) of a public file, or of a keys file for peer; PublicFileError naming
    the field otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
        document = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise PublicFileError(f"{path}: expected a readable YAML public file") from None
    if not isinstance(document, list):
        public = parse_public_file(text, str(path))
        if peer is not None and peer != public.node_id:
            raise PublicFileError(f"{path}: node: expected {peer}, the --peer given")
        return public.node_id, public.keys
    if peer is None:
        raise PublicFileError(f"{path}: a keys file names no node: expected --peer ID")
    return peer, tuple(
        _key_entry(item, f"{path}: [{index}]") for index, item in enumerate(document)
    )


def _key_entry(item: object, place: str) -> PeerKeyConfig:
    if not isinstance(item, dict):
        raise PublicFileError(f"{place}: expected a mapping with id, keys and window")
    try:
        key_id = str(item["id"])
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise ValueError(f"id: expected a key id matching ^{KEY_ID_PATTERN.pattern}$")
        key = PeerKeyConfig(
            id=key_id,
            signing_public_key=parse_public_key(str(item["signing_public_key"]), "ed25519"),
            encryption_public_key=parse_public_key(str(item["encryption_public_key"]), "x25519"),
            valid_from=_instant(item["valid_from"]),
            valid_until=_instant(item["valid_until"]),
        )
    except KeyError as missing:
        raise PublicFileError(f"{place}.{missing.args[0]}: missing") from None
    except ValueError as error:
        raise PublicFileError(f"{place}: {error}") from None
    if key.valid_until <= key.valid_from:
        raise PublicFileError(f"{place}.valid_until: expected an instant after valid_from")
    return key


def _instant(value: object) -> datetime:
    if isinstance(value, datetime):
        return to_utc(value)
    return parse_instant(str(value))


def run_peer_keys(_args: argparse.Namespace, config: NodeConfig) -> int:
    rows = [
        (peer.id, key.id, "config", "configured", key.valid_from, key.valid_until)
        for peer in config.peers
        for key in peer.keys
    ]
    rows += [
        (r.peer, r.key.key_id, r.source, r.state, r.key.valid_from, r.key.valid_until)
        for r in asyncio.run(on_store(config, lambda store: store.recorded_peer_keys()))
    ]
    print("PEER\tKEY\tFROM\tSTATE\tVALID_FROM\tVALID_UNTIL")
    for peer, key_id, source, state, valid_from, valid_until in sorted(rows):
        print(
            f"{peer}\t{key_id}\t{source}\t{state}\t{format_instant(valid_from)}\t"
            f"{format_instant(valid_until)}"
        )
    return 0


def run_import_key(args: argparse.Namespace, config: NodeConfig) -> int:
    try:
        node_id, keys = _read_keys(args.public_file, args.peer)
    except PublicFileError as error:
        return fail("peers import-key", str(error))
    peer = config.peer(node_id)
    if peer is None:
        return fail(
            "peers import-key",
            f"node: {node_id} is not a peer in {config.config_file}; add it with "
            "`gateway peers add`",
        )
    configured = {key.id: key for key in peer.keys}
    for key in keys:
        known = configured.get(key.id)
        if known is not None and (known.signing_public_key, known.encryption_public_key) != (
            key.signing_public_key,
            key.encryption_public_key,
        ):
            return fail(
                "peers import-key",
                f"keys: {key.id} is configured for {peer.id} with other public keys",
            )
    rows = [
        PublishedKeyRow(
            key.id,
            key.signing_public_key,
            key.encryption_public_key,
            key.valid_from,
            key.valid_until,
        )
        for key in keys
    ]
    changed = asyncio.run(
        on_store(
            config,
            lambda store: store.import_peer_keys(peer.id, rows, actor="cli", now=datetime.now(UTC)),
        )
    )
    if changed:
        print(f"recorded keys of {peer.id}: {changed}; the running node uses them from valid_from")
    else:
        print(f"nothing new: {peer.id}'s keys in {args.public_file} are recorded already")
    return 0

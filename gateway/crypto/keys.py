"""Node keys and the keyring a gateway verifies and opens with.

Each node holds key pairs, each pair an Ed25519 signing key and a separate X25519
encryption key under one versioned key id and one validity window. Keeping the two keys
separate (rather than converting one curve to the other) means compromise or misuse of one
primitive never touches the other, and each can be reasoned about on its own.

Rotation is overlap, not switch-over: a node publishes its next pair before the current one
expires, sends under the newest pair that is valid, and keeps the old private keys until
every message sealed for them has expired. A message is judged by the keys valid at its
`created` instant, so a rotated-out key still opens what it sealed while it was valid.

Rolling over without a restart (docs/PROTOCOL.md section 12): besides the configured keys,
the keyring takes keys a peer announced (or an operator imported), which the store supplies,
and this node's own keys added to its config while it runs. Such keys are swapped in whole
(`learn`, `set_own`), never edited in place, so a lookup on the crypto pool sees either the
old or the new set. A new own key is withheld from a peer until that peer has accepted its
announcement: before then the peer could neither verify nor open what it signs or seals.
This module stays pure: it is handed keys and never reads them from anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from nacl.public import Box, PrivateKey, PublicKey
from nacl.signing import SigningKey


@dataclass(frozen=True)
class KeyValidity:
    """The half-open window [valid_from, valid_until) in which a key pair may be used."""

    valid_from: datetime
    valid_until: datetime

    def __post_init__(self) -> None:
        if self.valid_from.tzinfo is None or self.valid_until.tzinfo is None:
            raise ValueError("key validity instants must be timezone-aware")
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")

    def covers(self, instant: datetime) -> bool:
        """True when instant falls inside the window."""
        return self.valid_from <= instant < self.valid_until


@dataclass(frozen=True)
class PublicKeyPair:
    """What a node publishes to its peers for one key id."""

    key_id: str
    signing_public: bytes
    encryption_public: bytes
    validity: KeyValidity

    def __post_init__(self) -> None:
        if len(self.signing_public) != 32 or len(self.encryption_public) != 32:
            raise ValueError("public keys are 32 bytes")


@dataclass(frozen=True)
class OwnKeyPair:
    """This node's private keys for one key id; never printed."""

    key_id: str
    signing_key: SigningKey = field(repr=False)
    encryption_key: PrivateKey = field(repr=False)
    validity: KeyValidity

    @classmethod
    def generate(cls, key_id: str, validity: KeyValidity) -> OwnKeyPair:
        """A fresh pair from the operating system's random source."""
        return cls(key_id, SigningKey.generate(), PrivateKey.generate(), validity)

    @classmethod
    def from_secrets(
        cls, key_id: str, signing_seed: bytes, encryption_secret: bytes, validity: KeyValidity
    ) -> OwnKeyPair:
        """Rebuild a pair from the 32-byte Ed25519 seed and X25519 secret kept on disk."""
        return cls(key_id, SigningKey(signing_seed), PrivateKey(encryption_secret), validity)

    @property
    def signing_seed(self) -> bytes:
        """The 32-byte Ed25519 seed, for writing the private key file."""
        return bytes(self.signing_key)

    @property
    def encryption_secret(self) -> bytes:
        """The 32-byte X25519 secret, for writing the private key file."""
        return bytes(self.encryption_key)

    def public(self) -> PublicKeyPair:
        """The half of this pair that peers need."""
        return PublicKeyPair(
            self.key_id,
            bytes(self.signing_key.verify_key),
            bytes(self.encryption_key.public_key),
            self.validity,
        )


_Pair = TypeVar("_Pair", OwnKeyPair, PublicKeyPair)


def _newest_valid(keys: Iterable[_Pair], at: datetime) -> _Pair | None:
    valid = [key for key in keys if key.validity.covers(at)]
    # Ties on valid_from go to the greater key id, so every node picks the same pair.
    return max(valid, key=lambda key: (key.validity.valid_from, key.key_id), default=None)


def merge_peer_keys(
    configured: Sequence[PublicKeyPair], recorded: Sequence[PublicKeyPair]
) -> list[PublicKeyPair]:
    """A peer's keys: the configured ones, plus recorded ones under new key ids, with windows
    a recording ends earlier (same public keys, still after the window's start) shortened. A
    recording never lengthens a window nor replaces a configured key's public keys: what the
    operator configured wins. The database's peer_key_record applies the same rule."""
    merged = {key.key_id: key for key in configured}
    for key in recorded:
        known = merged.get(key.key_id)
        if known is None:
            merged[key.key_id] = key
        elif (known.signing_public, known.encryption_public) == (
            key.signing_public,
            key.encryption_public,
        ) and known.validity.valid_from < key.validity.valid_until < known.validity.valid_until:
            ends = KeyValidity(known.validity.valid_from, key.validity.valid_until)
            merged[key.key_id] = PublicKeyPair(
                known.key_id, known.signing_public, known.encryption_public, ends
            )
    return list(merged.values())


class Keyring:
    """This node's key pairs and every peer's published public keys.

    The configured keys are fixed for the keyring's life; recorded peer keys, withheld own
    keys and own keys added at run time are replaced whole by `learn` and `set_own`.
    """

    def __init__(
        self,
        node_id: str,
        own: Sequence[OwnKeyPair],
        peers: Mapping[str, Sequence[PublicKeyPair]],
    ) -> None:
        if not own:
            raise ValueError("a node needs at least one key pair")
        self.node_id = node_id
        self._own = {key.key_id: key for key in own}
        self._configured_peers = {peer: list(keys) for peer, keys in peers.items()}
        self._peers = {peer: {key.key_id: key for key in keys} for peer, keys in peers.items()}
        # Per peer, ids of own keys it has not accepted the announcement of yet.
        self._withheld: Mapping[str, frozenset[str]] = {}
        self._unannounced: frozenset[str] = frozenset()
        # A Box holds the X25519 shared key; computing it is most of sealing's cost, and the
        # pairs are few and fixed for this keyring's life.
        self._boxes: dict[tuple[str, bytes], Box] = {}

    def __repr__(self) -> str:
        own, peers = sorted(self._own), sorted(self._peers)
        return f"Keyring(node_id={self.node_id!r}, own={own}, peers={peers})"

    def box(self, own: OwnKeyPair, peer: PublicKeyPair) -> Box:
        """The crypto_box between one of our pairs and a peer's; nacl errors pass through."""
        key = (own.key_id, peer.encryption_public)
        box = self._boxes.get(key)
        if box is None:
            box = self._boxes[key] = Box(own.encryption_key, PublicKey(peer.encryption_public))
        return box

    def own_key(self, key_id: str) -> OwnKeyPair | None:
        """One of this node's pairs by id, whatever its validity."""
        return self._own.get(key_id)

    def own_key_at(self, at: datetime, peer: str | None = None) -> OwnKeyPair | None:
        """The pair to sign and seal with at this instant: the newest valid one, passing over
        pairs withheld from peer (when given) while another is valid."""
        own = self._own.values()
        withheld = (
            self._withheld.get(peer, frozenset()) | self._unannounced
            if peer is not None
            else frozenset()
        )
        if withheld:
            usable = _newest_valid((key for key in own if key.key_id not in withheld), at)
            if usable is not None:
                return usable
        return _newest_valid(own, at)

    def set_own(self, own: Sequence[OwnKeyPair]) -> None:
        """Replace this node's pairs (its config's keys were reloaded)."""
        if not own:
            raise ValueError("a node needs at least one key pair")
        changed = {key.key_id: key for key in own}
        if any(
            key_id in self._own and self._own[key_id].signing_seed != key.signing_seed
            for key_id, key in changed.items()
        ):
            self._boxes = {}
        self._own = changed

    def learn(
        self,
        recorded: Mapping[str, Sequence[PublicKeyPair]],
        withheld: Mapping[str, frozenset[str]],
        unannounced: frozenset[str] = frozenset(),
    ) -> None:
        """Replace the recorded peer keys (announced or imported; merged over the configured
        ones by merge_peer_keys), the own key ids withheld per peer, and those withheld from
        every peer (in the config, not announced yet)."""
        self._peers = {
            peer: {key.key_id: key for key in merge_peer_keys(configured, recorded.get(peer, ()))}
            for peer, configured in self._configured_peers.items()
        }
        self._withheld = dict(withheld)
        self._unannounced = unannounced

    def own_public_keys(self) -> list[PublicKeyPair]:
        """This node's published keys, for receipts' third-party verification."""
        return [key.public() for key in self._own.values()]

    def is_peer(self, node_id: str) -> bool:
        """True when node_id is a configured peer."""
        return node_id in self._peers

    def peer_key(self, node_id: str, key_id: str) -> PublicKeyPair | None:
        """A peer's published pair by id, whatever its validity."""
        return self._peers.get(node_id, {}).get(key_id)

    def peer_key_at(self, node_id: str, at: datetime) -> PublicKeyPair | None:
        """The peer's pair to seal for at this instant: its newest valid one."""
        return _newest_valid(self._peers.get(node_id, {}).values(), at)

    def peer_keys(self, node_id: str) -> list[PublicKeyPair]:
        """Every published pair of a peer."""
        return list(self._peers.get(node_id, {}).values())

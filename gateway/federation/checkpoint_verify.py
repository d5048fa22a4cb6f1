"""Checking the audit chain against the checkpoints peers countersigned (docs/PROTOCOL.md
16.5): what `gateway audit verify` adds to recomputing the chain.

Each countersignature is evidence only once re-verified: the peer's signature (under the
peer's key this node holds: a row written by hand does not verify), addressed to this node,
naming the SHA-256 of the checkpoint envelope kept with it; that envelope is then opened as
this node's own (our signature) and its hashes are the ones the peer was given. The
convenience columns (entry_hashes, head_hash) are never trusted.

Then the chain is recomputed from its entries' content (Store.recomputed_chain, page by
page) and every entry a valid countersignature covers must be there with the hash it had:
an entry missing names the entries cut ("truncated"), a hash that differs the first entry
rewritten ("rewritten"), per peer, with when that peer countersigned. A chain recomputed
from a rewritten entry on (so that it verifies on its own) is caught here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from gateway.config.values import format_instant
from gateway.crypto import EnvelopeRejected, Keyring, reopen_sent, reopen_stored
from gateway.federation.checkpoints import (
    Checkpoint,
    Countersignature,
    read_checkpoint,
    read_countersignature,
)
from gateway.store import Store
from gateway.store.checkpoints import CheckpointCopy
from gateway.wire import ControlKind

PAGE_CHECKPOINTS = 100
PAGE_ENTRIES = 5000


@dataclass(frozen=True)
class CheckpointFinding:
    """One thing the countersigned checkpoints show about this node's chain."""

    problem: str  # truncated | rewritten | countersignature_invalid
    peer: str
    checkpoint: int  # the checkpoint's seq
    countersigned_at: datetime | None
    first: int  # truncated: first entry missing; rewritten: first entry that differs
    last: int  # truncated: the last entry countersigned; otherwise = first
    why: str = ""

    @property
    def text(self) -> str:
        at = "?" if self.countersigned_at is None else format_instant(self.countersigned_at)
        if self.problem == "truncated":
            return (
                f"truncated: entries {self.first}..{self.last} missing; {self.peer} "
                f"countersigned {self.last} entries at {at}"
            )
        if self.problem == "rewritten":
            return (
                f"rewritten: entry {self.first} no longer matches the hash {self.peer} "
                f"countersigned at {at}"
            )
        return (
            f"countersignature invalid: {self.peer}'s of checkpoint {self.checkpoint}: {self.why}"
        )

    def as_json(self) -> dict[str, object]:
        return {
            "problem": self.problem,
            "peer": self.peer,
            "checkpoint": self.checkpoint,
            "countersigned_at": None
            if self.countersigned_at is None
            else format_instant(self.countersigned_at),
            "first": self.first,
            "last": self.last,
            "text": self.text,
        }


@dataclass(frozen=True)
class CheckpointReport:
    """Countersignatures checked, entries they cover, and what they show."""

    countersignatures: int
    entries_covered: int
    findings: tuple[CheckpointFinding, ...]


@dataclass(frozen=True)
class _Evidence:
    peer: str
    point: Checkpoint
    countersigned_at: datetime


def evidence(keyring: Keyring, copy: CheckpointCopy) -> _Evidence | str:
    """The checkpoint a countersigned copy proves, or why it proves nothing."""
    assert copy.countersignature is not None
    assert copy.peer is not None
    try:
        opened = reopen_stored(keyring, copy.countersignature)
    except EnvelopeRejected as refused:
        return f"does not verify ({refused.reason.value})"
    header = opened.header
    if (header.sender, header.recipient, header.kind) != (
        copy.peer,
        keyring.node_id,
        ControlKind.CHECKPOINT_COUNTERSIGNATURE,
    ):
        return "not a countersignature from that peer to this node"
    try:
        signed = read_countersignature(opened)
    except EnvelopeRejected as refused:
        return f"malformed ({refused.detail})"
    if copy.envelope is None or hashlib.sha256(copy.envelope).digest() != (
        signed.checkpoint_envelope_sha256
    ):
        return "the checkpoint envelope kept is not the one countersigned"
    try:
        point = read_checkpoint(reopen_sent(keyring, copy.envelope))
    except EnvelopeRejected as refused:
        return f"the checkpoint envelope does not open ({refused.reason.value})"
    if (point.seq, point.head_hash) != (signed.seq, signed.head_hash):
        return "the countersignature names another seq or head hash"
    return _Evidence(copy.peer, point, signed.countersigned_at)


async def _countersigned(store: Store) -> list[CheckpointCopy]:
    copies: list[CheckpointCopy] = []
    after = 0
    while True:
        page = await store.checkpoint_copies(after, PAGE_CHECKPOINTS)
        if not page:
            return copies
        copies += [copy for copy in page if copy.countersignature is not None]
        after = page[-1].seq


def _first_per_peer(findings: Iterable[CheckpointFinding]) -> list[CheckpointFinding]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for finding in findings:
        if (finding.problem, finding.peer) not in seen:
            seen.add((finding.problem, finding.peer))
            kept.append(finding)
    return kept


async def verify_checkpoints(
    store: Store, keyring: Keyring, asked: Mapping[str, Countersignature] | None = None
) -> CheckpointReport:
    """Check the chain against every countersigned checkpoint (see the module's note), and
    against the head of the newest checkpoint each peer in `asked` said it holds (peer names
    suffixed "(asked)"; gateway.federation.checkpoint_statement)."""
    findings: list[CheckpointFinding] = []
    # entry seq -> [(hash, peer, checkpoint seq, countersigned at)]
    expected: dict[int, list[tuple[bytes, str, int, datetime]]] = {}
    valid = 0
    for peer, statement in sorted((asked or {}).items()):
        valid += 1
        expected.setdefault(statement.seq, []).append(
            (statement.head_hash, f"{peer} (asked)", statement.seq, statement.countersigned_at)
        )
    for copy in await _countersigned(store):
        proved = evidence(keyring, copy)
        if isinstance(proved, str):
            assert copy.peer is not None
            findings.append(
                CheckpointFinding(
                    "countersignature_invalid",
                    copy.peer,
                    copy.seq,
                    copy.countersigned_at,
                    copy.seq,
                    copy.seq,
                    proved,
                )
            )
            continue
        valid += 1
        point = proved.point
        for offset, digest in enumerate(point.entry_hashes):
            expected.setdefault(point.first_seq + offset, []).append(
                (digest, proved.peer, point.seq, proved.countersigned_at)
            )
    covered = len(expected)
    rewritten: list[CheckpointFinding] = []
    after, prev = 0, None
    chain_end = 0  # the last entry of the chain (scanned to the end whenever one is missing)
    while expected:
        page = await store.recomputed_chain(after, prev, PAGE_ENTRIES)
        if not page:
            break
        for seq, digest in page:
            for held, peer, checkpoint, at in expected.pop(seq, []):
                if held != digest:
                    rewritten.append(CheckpointFinding("rewritten", peer, checkpoint, at, seq, seq))
        after, prev = page[-1]
        chain_end = after
    findings += _first_per_peer(rewritten)
    # What is left was countersigned but is not in the chain.
    missing: dict[str, list[tuple[int, int, datetime]]] = {}
    for seq, holders in expected.items():
        for _, peer, checkpoint, at in holders:
            missing.setdefault(peer, []).append((seq, checkpoint, at))
    for peer, entries in sorted(missing.items()):
        entries.sort()
        first = entries[0][0]
        last, checkpoint, at = max(entries, key=lambda entry: entry[0])
        # A head alone (a peer asked) names no entry before it: the cut starts after the end.
        first = min(first, chain_end + 1)
        findings.append(CheckpointFinding("truncated", peer, checkpoint, at, first, last))
    return CheckpointReport(valid, covered, tuple(findings))

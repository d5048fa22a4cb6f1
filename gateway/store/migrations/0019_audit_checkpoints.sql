-- Audit checkpoints held by peers (issue 12 item 2, docs/PROTOCOL.md section 16).
--
-- Origin side: each checkpoint taken (the chain hashes of entries first_seq..seq, 32 bytes
-- each, concatenated), and per peer the copy sent (its outbox message id and envelope hash)
-- and the countersignature envelope received for it, kept whole with the checkpoint envelope
-- it names: `gateway audit verify` re-verifies both (the peer's signature, ours), so a row
-- written by hand proves nothing.
--
-- Peer side: every checkpoint received, kept under its (origin, message id) for the replay
-- rule, with the countersignature queued back; one that goes back (a lower seq than one
-- held) or contradicts a hash held for the same entry is kept too, flagged.
CREATE TABLE audit_checkpoints (
    seq             bigint PRIMARY KEY,
    first_seq       bigint NOT NULL,
    head_hash       bytea NOT NULL CHECK (length(head_hash) = 32),
    entry_hashes    bytea NOT NULL,
    at              timestamptz NOT NULL,
    CHECK (1 <= first_seq AND first_seq <= seq AND seq - first_seq < 4096),
    CHECK (length(entry_hashes) = 32 * (seq - first_seq + 1))
);

CREATE TABLE audit_checkpoint_copies (
    message_id      uuid PRIMARY KEY,           -- the checkpoint envelope's (our outbox row)
    seq             bigint NOT NULL REFERENCES audit_checkpoints (seq),
    peer            text NOT NULL,
    envelope_sha256 bytea NOT NULL,
    -- The checkpoint envelope itself: the countersignature names its hash, and this node
    -- can open its own copy, so the hashes it carried are read from it, signed, not from
    -- entry_hashes above (a convenience a DBA could edit).
    envelope        bytea NOT NULL,
    -- The first countersignature recorded: its envelope (the evidence), id and receipt.
    countersignature        bytea,
    countersignature_id     uuid,
    countersignature_sha256 bytea,
    countersignature_receipt bytea,
    countersigned_at        timestamptz,         -- as the peer says
    countersignature_received_at timestamptz,
    UNIQUE (seq, peer),
    CHECK ((countersignature IS NULL) = (countersignature_id IS NULL))
);
CREATE INDEX audit_checkpoint_copies_envelope ON audit_checkpoint_copies (peer, envelope_sha256);
CREATE UNIQUE INDEX audit_checkpoint_copies_countersignature
    ON audit_checkpoint_copies (peer, countersignature_id);

CREATE TABLE peer_audit_checkpoints (
    origin          text NOT NULL,
    message_id      uuid NOT NULL,              -- the checkpoint envelope's
    seq             bigint NOT NULL,
    first_seq       bigint NOT NULL,
    head_hash       bytea NOT NULL,
    entry_hashes    bytea NOT NULL,
    at              timestamptz NOT NULL,       -- as the origin says
    envelope_sha256 bytea NOT NULL,
    receipt         bytea NOT NULL,
    received_at     timestamptz NOT NULL,
    countersignature_id uuid,                   -- the countersignature queued back
    -- NULL, 'seq_went_back' or 'hash_contradicts': the origin's chain was cut or rewritten.
    contradiction   text CHECK (contradiction IN ('seq_went_back', 'hash_contradicts')),
    PRIMARY KEY (origin, message_id),
    CHECK (1 <= first_seq AND first_seq <= seq),
    CHECK (length(entry_hashes) = 32 * (seq - first_seq + 1))
);
CREATE INDEX peer_audit_checkpoints_seq ON peer_audit_checkpoints (origin, seq);

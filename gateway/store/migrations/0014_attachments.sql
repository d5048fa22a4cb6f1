-- Attachment streams at rest (issue 11, docs/PROTOCOL.md section 7.4).
--
-- A stream (7.1, encrypted) is kept as rows of at most 1 MiB, not as files: every state of
-- the gateway lives in PostgreSQL, so a backup and a restore cover attachments too, and a
-- crash loses at most the part of a chunk not yet written. A stream belongs to the peer
-- (or, later, the local client) that sent it: its key is (owner, direction, attachment_id),
-- so one peer can neither append to nor read another's stream, nor block an id by taking it
-- first. Only the last row of a stream may be shorter than 1 MiB; appends fill it up before
-- adding a row, so the received length is always the sum of contiguous rows (kept in
-- received_bytes, moved in the same statement as the rows by the store only).
--
-- State goes forward only: receiving -> complete (all declared bytes in; its SHA-256 is
-- computed then) -> verified (decrypted against its AttachmentKey, 7.3; a later version).
-- created_at is for the TTL sweep of streams no envelope ever named.

CREATE TYPE attachment_direction AS ENUM ('incoming', 'outgoing');
CREATE TYPE attachment_state AS ENUM ('receiving', 'complete', 'verified');

CREATE TABLE attachments (
    owner           text NOT NULL,              -- the peer (incoming) or local client (outgoing)
    direction       attachment_direction NOT NULL,
    attachment_id   text NOT NULL CHECK (attachment_id ~ '^[A-Za-z0-9._-]{1,128}$'),
    declared_size   bigint CHECK (declared_size >= 0),
    received_bytes  bigint NOT NULL DEFAULT 0 CHECK (received_bytes >= 0),
    stream_sha256   bytea CHECK (length(stream_sha256) = 32),
    state           attachment_state NOT NULL DEFAULT 'receiving',
    created_at      timestamptz NOT NULL,
    completed_at    timestamptz,
    PRIMARY KEY (owner, direction, attachment_id),
    CHECK (declared_size IS NULL OR received_bytes <= declared_size),
    CHECK ((state = 'receiving') = (stream_sha256 IS NULL)),
    CHECK (state = 'receiving' OR received_bytes = declared_size)
);
CREATE INDEX attachments_created ON attachments (created_at) WHERE state = 'receiving';

CREATE TABLE attachment_chunks (
    owner           text NOT NULL,
    direction       attachment_direction NOT NULL,
    attachment_id   text NOT NULL,
    n               integer NOT NULL CHECK (n >= 0),
    bytes           bytea NOT NULL CHECK (length(bytes) BETWEEN 1 AND 1048576),
    PRIMARY KEY (owner, direction, attachment_id, n),
    FOREIGN KEY (owner, direction, attachment_id)
        REFERENCES attachments (owner, direction, attachment_id) ON DELETE CASCADE
);
-- The stream's bytes are stored once; PostgreSQL would otherwise try to compress ciphertext.
ALTER TABLE attachment_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;

-- State only goes forward; a stream's declared size, once set, and its length and hash, once
-- complete, never change.
CREATE FUNCTION attachments_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.declared_size IS NOT NULL AND NEW.declared_size IS DISTINCT FROM OLD.declared_size THEN
        RAISE EXCEPTION 'attachment %/% cannot change its declared size', OLD.owner,
            OLD.attachment_id USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.received_bytes < OLD.received_bytes THEN
        RAISE EXCEPTION 'attachment %/% cannot shrink', OLD.owner, OLD.attachment_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.state <> 'receiving' AND (NEW.received_bytes, NEW.stream_sha256)
            IS DISTINCT FROM (OLD.received_bytes, OLD.stream_sha256) THEN
        RAISE EXCEPTION 'attachment %/% is complete', OLD.owner, OLD.attachment_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NOT ((OLD.state = NEW.state)
            OR (OLD.state = 'receiving' AND NEW.state = 'complete')
            OR (OLD.state = 'complete' AND NEW.state = 'verified')) THEN
        RAISE EXCEPTION 'attachment %/% cannot go from % to %', OLD.owner, OLD.attachment_id,
            OLD.state, NEW.state USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER attachments_check BEFORE UPDATE ON attachments
    FOR EACH ROW EXECUTE FUNCTION attachments_check();

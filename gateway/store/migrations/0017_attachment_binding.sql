-- Attachments bound to their messages (issue 11 item 1, docs/PROTOCOL.md 7.4).
--
-- Staging streams: a local client uploads a plaintext (PUT /api/v1/attachments/{id}); the
-- gateway keeps it encrypted (7.1) under a fresh key as an 'outgoing' stream owned by the
-- client. The key is stored sealed to this node's own key (gateway/crypto/drafts.py sealing),
-- never in the clear, with the media type, the plaintext size and the plaintext's SHA-256
-- (a re-upload of the same id is judged by it). A staging stream is never sent: at
-- submission it is re-encrypted once per recipient under a new key and a new wire id
-- (7.1 forbids a key for two recipients, and a receiver keys a complete stream for ever by
-- its id), and those per-recipient streams ('outgoing', owner = the recipient peer) are what
-- travel. outbox_attachments links an outbox row to them, in AttachmentKey order.
--
-- inbox_attachments links an accepted incoming envelope to the verified streams its
-- AttachmentKeys name, in the same order: the local read path (attachview) and the
-- retention sweep (never delete a linked stream) read it. Both links hold their streams by
-- a foreign key (no ON DELETE): a stream a message names cannot be deleted under it.

ALTER TABLE attachments
    ADD COLUMN key_id           text,           -- this node's key the stream key is sealed to
    ADD COLUMN key_sealed       bytea,          -- staging streams only
    ADD COLUMN media_type       text,
    ADD COLUMN plaintext_size   bigint CHECK (plaintext_size >= 0),
    ADD COLUMN plaintext_sha256 bytea CHECK (length(plaintext_sha256) = 32),
    ADD CONSTRAINT attachments_staging_whole CHECK (
        (key_sealed IS NULL) = (key_id IS NULL)
        AND (key_sealed IS NULL
             OR (direction = 'outgoing' AND media_type IS NOT NULL
                 AND plaintext_size IS NOT NULL AND plaintext_sha256 IS NOT NULL)));

CREATE TABLE outbox_attachments (
    outbox_id         bigint NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    position          integer NOT NULL CHECK (position >= 0),
    recipient         text NOT NULL,
    direction         attachment_direction NOT NULL DEFAULT 'outgoing'
                          CHECK (direction = 'outgoing'),
    attachment_id     text NOT NULL,            -- the wire id (a UUIDv7 text)
    ciphertext_sha256 bytea NOT NULL CHECK (length(ciphertext_sha256) = 32),
    pushed_at         timestamptz,              -- the receiver said 'complete'
    PRIMARY KEY (outbox_id, position),
    UNIQUE (recipient, attachment_id),
    FOREIGN KEY (recipient, direction, attachment_id)
        REFERENCES attachments (owner, direction, attachment_id)
);
CREATE INDEX outbox_attachments_unpushed ON outbox_attachments (outbox_id)
    WHERE pushed_at IS NULL;

CREATE TABLE inbox_attachments (
    inbox_id          bigint NOT NULL REFERENCES inbox (id) ON DELETE CASCADE,
    position          integer NOT NULL CHECK (position >= 0),
    sender            text NOT NULL,
    direction         attachment_direction NOT NULL DEFAULT 'incoming'
                          CHECK (direction = 'incoming'),
    attachment_id     text NOT NULL,
    media_type        text NOT NULL,
    plaintext_size    bigint NOT NULL CHECK (plaintext_size >= 0),
    PRIMARY KEY (inbox_id, position),
    FOREIGN KEY (sender, direction, attachment_id)
        REFERENCES attachments (owner, direction, attachment_id)
);
CREATE INDEX inbox_attachments_stream ON inbox_attachments (sender, attachment_id);

-- Once pushed, a stream stays pushed; the link itself is never rewritten.
CREATE FUNCTION outbox_attachments_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.outbox_id, NEW.position, NEW.recipient, NEW.attachment_id, NEW.ciphertext_sha256)
            IS DISTINCT FROM (OLD.outbox_id, OLD.position, OLD.recipient, OLD.attachment_id,
            OLD.ciphertext_sha256)
            OR (OLD.pushed_at IS NOT NULL AND NEW.pushed_at IS DISTINCT FROM OLD.pushed_at) THEN
        RAISE EXCEPTION 'outbox attachment %/% cannot be rewritten', OLD.outbox_id,
            OLD.position USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER outbox_attachments_check BEFORE UPDATE ON outbox_attachments
    FOR EACH ROW EXECUTE FUNCTION outbox_attachments_check();

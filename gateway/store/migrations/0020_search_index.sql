-- The search index (gateway/search): one sealed row per person named in a stored message.
--
-- Only what the inbox and outbox already hold in the clear is clear here (case, kind, peer,
-- direction, time); names, birth dates, document numbers, gate, role and handling are in
-- `sealed`, encrypted (XChaCha20-Poly1305) under the node's index key with the entry's
-- identity as associated data, so an entry moved to another row does not open. The index
-- key itself is in search_keys, sealed to this node's own X25519 key like an attachment's
-- content key (gateway/crypto/search_seal.py).
--
-- An entry belongs to exactly one inbox or outbox row (two real foreign keys, one set) and
-- goes with it: ON DELETE CASCADE for a deleted row, and a trigger for retention, which
-- deletes content by setting the envelope to NULL and never deletes the row (0010): once
-- the content is gone, so are the names that were read from it.

CREATE TABLE search_keys (
    generation      integer PRIMARY KEY,              -- a new key is a new generation
    key_id          text NOT NULL,                    -- the own key pair it is sealed to
    sealed          bytea NOT NULL,
    created_at      timestamptz NOT NULL
);

CREATE TABLE search_entries (
    id              bigserial PRIMARY KEY,            -- load and refresh order
    direction       text NOT NULL CHECK (direction IN ('in', 'out')),
    inbox_id        bigint REFERENCES inbox (id) ON DELETE CASCADE,
    outbox_id       bigint REFERENCES outbox (id) ON DELETE CASCADE,
    ordinal         integer NOT NULL CHECK (ordinal >= 0),   -- the person's place in the message
    case_id         uuid NOT NULL,
    kind            text NOT NULL,
    peer            text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    generation      integer NOT NULL REFERENCES search_keys (generation) ON DELETE CASCADE,
    sealed          bytea NOT NULL,
    CHECK ((direction = 'in') = (inbox_id IS NOT NULL)
           AND (direction = 'out') = (outbox_id IS NOT NULL)),
    UNIQUE (inbox_id, ordinal),
    UNIQUE (outbox_id, ordinal)
);

-- Which rows the indexer has read (rows naming nobody, or whose content was already gone,
-- count as read too): it takes the rows missing here, and writes this record and the
-- entries in one transaction, so a crash re-reads a batch and never indexes one twice.
CREATE TABLE search_indexed (
    direction       text NOT NULL CHECK (direction IN ('in', 'out')),
    inbox_id        bigint UNIQUE REFERENCES inbox (id) ON DELETE CASCADE,
    outbox_id       bigint UNIQUE REFERENCES outbox (id) ON DELETE CASCADE,
    persons         integer NOT NULL CHECK (persons >= 0),
    indexed_at      timestamptz NOT NULL,
    CHECK ((direction = 'in') = (inbox_id IS NOT NULL)
           AND (direction = 'out') = (outbox_id IS NOT NULL))
);

-- Retention sets content to NULL: the entries read from it go in the same statement.
CREATE FUNCTION search_entries_follow_content() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'inbox' THEN
        DELETE FROM search_entries WHERE inbox_id = OLD.id;
    ELSE
        DELETE FROM search_entries WHERE outbox_id = OLD.id;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER inbox_search_entries_follow_content AFTER UPDATE OF envelope ON inbox
    FOR EACH ROW WHEN (NEW.envelope IS NULL AND OLD.envelope IS NOT NULL)
    EXECUTE FUNCTION search_entries_follow_content();
CREATE TRIGGER outbox_search_entries_follow_content AFTER UPDATE OF envelope ON outbox
    FOR EACH ROW WHEN (NEW.envelope IS NULL AND OLD.envelope IS NOT NULL)
    EXECUTE FUNCTION search_entries_follow_content();

-- Wakes the indexer (any process: the node, the CLI's send) once per statement that stores
-- messages; NOTIFY is transactional, so only for committed rows.
CREATE FUNCTION search_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('blg_search', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;
CREATE TRIGGER inbox_search_notify AFTER INSERT ON inbox
    FOR EACH STATEMENT EXECUTE FUNCTION search_notify();
CREATE TRIGGER outbox_search_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION search_notify();

-- Retention deletes message content, not messages. The sealed envelope of a finished
-- outgoing message, of an incoming one every local client has had, and the sealed message of
-- a decided draft are set to NULL once their period (per handling marking) has passed; the
-- rows stay, with their hashes, receipts and times, so a case still shows its thread, the
-- inbox still recognises a replay (by sender, message id and envelope hash), and the audit
-- log keeps pointing at something.
--
-- The inbox gets the marking the sender put inside the sealed message, which the header does
-- not carry: the receiver opens every envelope when it arrives (to verify it), and records
-- it there. Rows received before this migration have none (NULL): retention and the console
-- treat an unknown marking as the strictest, victim_protected.
ALTER TABLE outbox ALTER COLUMN envelope DROP NOT NULL;
ALTER TABLE inbox ALTER COLUMN envelope DROP NOT NULL, ADD COLUMN handling text;
ALTER TABLE drafts ALTER COLUMN sealed_message DROP NOT NULL;

-- Content of a message still in the queue, or of a draft still awaiting approval, is never
-- deleted, whatever statement tries.
ALTER TABLE outbox ADD CONSTRAINT outbox_content_until_finished
    CHECK (envelope IS NOT NULL OR state IN ('delivered', 'rejected', 'expired', 'dead'));
ALTER TABLE drafts ADD CONSTRAINT drafts_content_until_decided
    CHECK (sealed_message IS NOT NULL OR state <> 'awaiting_approval');

-- Content is written once: it may only be deleted, never replaced (nor brought back), and an
-- incoming message's only once every local client has had it.
CREATE FUNCTION content_delete_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.envelope IS NOT NULL AND NEW.envelope IS DISTINCT FROM OLD.envelope THEN
        RAISE EXCEPTION '% row % content can only be deleted, not rewritten', TG_TABLE_NAME, OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF TG_TABLE_NAME = 'inbox' AND NEW.envelope IS NULL AND OLD.envelope IS NOT NULL
       AND EXISTS (SELECT 1 FROM local_deliveries d
                   WHERE d.inbox_id = OLD.id AND d.state <> 'delivered') THEN
        RAISE EXCEPTION 'inbox row % content is still awaiting local delivery', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER outbox_content_delete_only BEFORE UPDATE OF envelope ON outbox
    FOR EACH ROW EXECUTE FUNCTION content_delete_only();
CREATE TRIGGER inbox_content_delete_only BEFORE UPDATE OF envelope ON inbox
    FOR EACH ROW EXECUTE FUNCTION content_delete_only();

-- A decided draft was final; now its sealed message may go (and only that, only to NULL).
CREATE OR REPLACE FUNCTION draft_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.case_id, NEW.kind, NEW.recipients, NEW.composed_by, NEW.composed_at, NEW.key_id)
        IS DISTINCT FROM (OLD.case_id, OLD.kind, OLD.recipients, OLD.composed_by,
        OLD.composed_at, OLD.key_id)
       OR (NEW.sealed_message IS NOT NULL AND NEW.sealed_message IS DISTINCT FROM OLD.sealed_message)
    THEN
        RAISE EXCEPTION 'draft % cannot be rewritten, only approved or withdrawn', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.state = NEW.state THEN
        IF OLD.state <> 'awaiting_approval'
           AND (NEW.sealed_message IS NOT NULL OR OLD.sealed_message IS NULL
                OR (NEW.decided_by, NEW.decided_at, NEW.message_ids)
                   IS DISTINCT FROM (OLD.decided_by, OLD.decided_at, OLD.message_ids)) THEN
            RAISE EXCEPTION 'draft % is % and cannot change', OLD.id, OLD.state
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF (OLD.state::text || '>' || NEW.state::text) IN (
        'awaiting_approval>approved', 'awaiting_approval>withdrawn'
    ) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'draft % cannot go from % to %', OLD.id, OLD.state, NEW.state
        USING ERRCODE = 'check_violation';
END;
$$;

-- What a sweep looks at: finished rows whose content is still there (rows whose content is
-- gone drop out of these indexes, so a sweep does not rescan years of metadata).
CREATE INDEX outbox_content_kept ON outbox (finished_at)
    WHERE envelope IS NOT NULL AND finished_at IS NOT NULL;
CREATE INDEX inbox_content_kept ON inbox (received_at) WHERE envelope IS NOT NULL;

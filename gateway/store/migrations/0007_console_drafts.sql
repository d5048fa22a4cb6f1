-- Victim handovers composed in the console wait here for a second person's approval (four
-- eyes). The message is kept sealed to this node's own key (gateway/crypto/drafts.py): the
-- database never holds victim plaintext. Approval moves the draft to 'approved' in the same
-- transaction that queues the sealed copies, so a draft is either approved and queued, or
-- neither; the state can only move forward, and nobody approves their own draft, whatever
-- the code or a hand-written UPDATE tries.

CREATE TYPE draft_state AS ENUM ('awaiting_approval', 'approved', 'withdrawn');

CREATE TABLE drafts (
    id              bigserial PRIMARY KEY,
    case_id         uuid NOT NULL,
    kind            text NOT NULL,
    recipients      text[] NOT NULL CHECK (cardinality(recipients) > 0),
    composed_by     bigint NOT NULL REFERENCES console_users (id),
    composed_at     timestamptz NOT NULL,
    state           draft_state NOT NULL DEFAULT 'awaiting_approval',
    decided_by      bigint REFERENCES console_users (id),  -- who approved or withdrew it
    decided_at      timestamptz,
    key_id          text NOT NULL,              -- this node's key the message is sealed with
    sealed_message  bytea NOT NULL,
    message_ids     uuid[],                     -- the queued copies, once approved
    CHECK ((state = 'awaiting_approval') = (decided_by IS NULL AND decided_at IS NULL)),
    CHECK (state <> 'approved' OR (decided_by <> composed_by AND message_ids IS NOT NULL))
);
CREATE INDEX drafts_case ON drafts (case_id, id);
CREATE INDEX drafts_awaiting ON drafts (id) WHERE state = 'awaiting_approval';

CREATE FUNCTION draft_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.case_id, NEW.kind, NEW.recipients, NEW.composed_by, NEW.composed_at, NEW.key_id,
        NEW.sealed_message) IS DISTINCT FROM (OLD.case_id, OLD.kind, OLD.recipients,
        OLD.composed_by, OLD.composed_at, OLD.key_id, OLD.sealed_message) THEN
        RAISE EXCEPTION 'draft % cannot be rewritten, only approved or withdrawn', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.state = NEW.state THEN
        IF OLD.state <> 'awaiting_approval' THEN
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
CREATE TRIGGER draft_check_transition BEFORE UPDATE ON drafts
    FOR EACH ROW EXECUTE FUNCTION draft_check_transition();

-- A local delivery that cannot be rendered (the client's format cannot carry the message,
-- the envelope no longer opens) is held aside with its reason, so that the client's feed
-- behind it flows on; an operator requeues it after a fix. Retention purges finished rows
-- by their times, hence the indexes (and the one on inbox_id, which its NOT EXISTS checks
-- and the foreign key's deletes need: the unique key leads with client).
--
-- The new enum value is not used as a literal here: inside the migration's transaction it
-- may not be (PostgreSQL refuses an uncommitted enum value), so the trigger compares text.
ALTER TYPE local_delivery_state ADD VALUE IF NOT EXISTS 'held';

ALTER TABLE local_deliveries
    ADD COLUMN held_reason text,               -- a reason code, never content
    ADD COLUMN held_at timestamptz;

CREATE OR REPLACE FUNCTION local_delivery_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state = NEW.state OR (OLD.state::text || '>' || NEW.state::text) IN (
        'pending>delivering', 'delivering>delivered', 'pending>delivered',
        'pending>held', 'held>pending'
    ) THEN
        IF NEW.state::text = 'held' AND NEW.held_reason IS NULL THEN
            RAISE EXCEPTION 'local delivery % held without a reason', OLD.id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'local delivery % cannot go from % to %', OLD.id, OLD.state, NEW.state
        USING ERRCODE = 'check_violation';
END;
$$;

CREATE INDEX local_deliveries_inbox ON local_deliveries (inbox_id);
CREATE INDEX local_deliveries_delivered ON local_deliveries (delivered_at)
    WHERE delivered_at IS NOT NULL;
CREATE INDEX outbox_finished ON outbox (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX inbox_received ON inbox (received_at);

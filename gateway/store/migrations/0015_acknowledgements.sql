-- Acknowledgements by a person, with deadlines (docs/PROTOCOL.md section 13).
--
-- Sending side: acknowledgement_deadlines, one row per sent message that needs a person's
-- acknowledgement (due_at fixed when it was queued, from the config's rules: a later config
-- change moves no running deadline), or that was acknowledged without needing it (due_at
-- NULL). Awaiting, acknowledged and overdue are read from it: acknowledged once
-- acknowledged_at is set, overdue while it is not and now > due_at.
--
-- Receiving side: acknowledgements_given, one row per received message this node
-- acknowledged, with the outbox row that carries the acknowledgement back: the primary key
-- makes it once per message per node, whatever the console, the API and a local system's
-- "handled" do at the same time.
--
-- control_received: control envelopes received (kind >= 101: acknowledgements, and any
-- later control kind that needs nothing more), kept with the receipt we signed so that a
-- replay gets the same receipt, as for inbox rows; never in the inbox, which is for local
-- systems.

CREATE TYPE acknowledged_how AS ENUM ('console', 'local_api', 'local_handled');

CREATE TABLE acknowledgement_deadlines (
    message_id      uuid PRIMARY KEY REFERENCES outbox (message_id),
    peer            text NOT NULL,
    kind            text NOT NULL,
    due_at          timestamptz,            -- NULL: no rule asked for an acknowledgement
    acknowledged_at timestamptz,
    acknowledged_by text,
    how             acknowledged_how,
    acknowledgement uuid,                   -- message id of the acknowledgement envelope
    recorded_at     timestamptz,            -- when this node received it
    CHECK (num_nulls(acknowledged_at, acknowledged_by, how, acknowledgement, recorded_at)
           IN (0, 5))
);
CREATE INDEX acknowledgement_deadlines_open ON acknowledgement_deadlines (due_at)
    WHERE acknowledged_at IS NULL AND due_at IS NOT NULL;

-- A deadline never moves and an acknowledgement, once recorded, never changes or goes away.
CREATE FUNCTION acknowledgement_deadlines_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.message_id, NEW.peer, NEW.kind, NEW.due_at) IS DISTINCT FROM
       (OLD.message_id, OLD.peer, OLD.kind, OLD.due_at) THEN
        RAISE EXCEPTION 'the deadline of message % cannot change', OLD.message_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.acknowledged_at IS NOT NULL AND
       (NEW.acknowledged_at, NEW.acknowledged_by, NEW.how, NEW.acknowledgement, NEW.recorded_at)
       IS DISTINCT FROM
       (OLD.acknowledged_at, OLD.acknowledged_by, OLD.how, OLD.acknowledgement, OLD.recorded_at)
    THEN
        RAISE EXCEPTION 'the acknowledgement of message % cannot change', OLD.message_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER acknowledgement_deadlines_check BEFORE UPDATE ON acknowledgement_deadlines
    FOR EACH ROW EXECUTE FUNCTION acknowledgement_deadlines_check();

CREATE TABLE acknowledgements_given (
    sender          text NOT NULL,          -- the acknowledged message's sender
    message_id      uuid NOT NULL,          -- the acknowledged message
    acknowledgement uuid NOT NULL UNIQUE REFERENCES outbox (message_id),
    acknowledged_at timestamptz NOT NULL,
    acknowledged_by text NOT NULL,
    how             acknowledged_how NOT NULL,
    PRIMARY KEY (sender, message_id),
    FOREIGN KEY (sender, message_id) REFERENCES inbox (sender, message_id)
);

CREATE FUNCTION acknowledgements_given_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'acknowledgements_given is append-only' USING ERRCODE = 'check_violation';
END;
$$;
CREATE TRIGGER acknowledgements_given_append_only BEFORE UPDATE OR DELETE
    ON acknowledgements_given FOR EACH ROW EXECUTE FUNCTION acknowledgements_given_append_only();

CREATE TABLE control_received (
    sender          text NOT NULL,
    message_id      uuid NOT NULL,
    kind            text NOT NULL,          -- the control kind: acknowledgement, ...
    envelope_sha256 bytea NOT NULL,
    receipt         bytea NOT NULL,
    created_at      timestamptz NOT NULL,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (sender, message_id)
);

-- Confirmed cancellation (issue 11 item 3, docs/PROTOCOL.md section 14).
--
-- Sending side: which queued messages are cancellations (the outbox keeps the kind, not the
-- action), so that a confirmation is accepted only for a cancellation this node sent, and
-- only from the peer it went to; and the confirmations received (every one is kept under its
-- own (sender, message id) for the replay rule: a second confirmation of one cancellation is
-- harmless, the first one counts).
--
-- Receiving side: the cases a peer cancelled here, and local deliveries of the case's
-- earlier messages withdrawn by it: 'pending' or 'held' rows (never handed to the local
-- system) move to 'withdrawn', in the transaction that stores the cancellation. A
-- 'delivering' row is not withdrawn: the worker has claimed it and may have handed it over
-- already (a file written, a webhook called), so finishing it is the only outcome that neither
-- loses nor duplicates it. 'withdrawn' is final. A claim the target certainly did not take
-- (a webhook refused it or could not be reached, a drop folder failed before the file name
-- was recorded) is released back to 'pending' ('delivering>pending', only without a recorded
-- file), so a local system that is down does not keep its backlog from being withdrawn; a
-- release that finds the case cancelled meanwhile withdraws it instead ('delivering>
-- withdrawn', same condition). Releases and cancellations of one (sender, case) take one
-- transaction-scoped advisory lock, so neither misses the other.
--
-- The new enum value is not used as a literal here (PostgreSQL refuses an uncommitted enum
-- value inside the migration's transaction), so the trigger compares text.
ALTER TYPE local_delivery_state ADD VALUE IF NOT EXISTS 'withdrawn';

ALTER TABLE local_deliveries
    ADD COLUMN withdrawn_at timestamptz,
    ADD COLUMN withdrawn_by uuid;              -- the cancellation's message id (its sender's)

CREATE OR REPLACE FUNCTION local_delivery_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state = NEW.state OR (OLD.state::text || '>' || NEW.state::text) IN (
        'pending>delivering', 'delivering>delivered', 'pending>delivered',
        'pending>held', 'held>pending', 'pending>withdrawn', 'held>withdrawn',
        'delivering>pending', 'delivering>withdrawn'
    ) THEN
        IF OLD.state::text = 'delivering' AND NEW.state::text IN ('pending', 'withdrawn')
           AND NEW.file_name IS NOT NULL THEN
            RAISE EXCEPTION 'local delivery % has a recorded file: it cannot be released', OLD.id
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.state::text = 'held' AND NEW.held_reason IS NULL THEN
            RAISE EXCEPTION 'local delivery % held without a reason', OLD.id
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.state::text = 'withdrawn' AND OLD.state <> NEW.state
           AND (NEW.withdrawn_at IS NULL OR NEW.withdrawn_by IS NULL) THEN
            RAISE EXCEPTION 'local delivery % withdrawn without its cancellation', OLD.id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'local delivery % cannot go from % to %', OLD.id, OLD.state, NEW.state
        USING ERRCODE = 'check_violation';
END;
$$;

-- Receiving side: one row per (sender, case) the sender cancelled here.
CREATE TABLE cases_cancelled (
    sender          text NOT NULL,
    case_id         uuid NOT NULL,
    cancellation    uuid NOT NULL,              -- the first cancellation's message id
    cancelled_at    timestamptz NOT NULL,
    withdrawn       integer NOT NULL CHECK (withdrawn >= 0),
    PRIMARY KEY (sender, case_id)
);
CREATE INDEX cases_cancelled_case ON cases_cancelled (case_id);

-- Sending side.
CREATE TABLE cancellations_sent (
    message_id      uuid PRIMARY KEY REFERENCES outbox (message_id) ON DELETE CASCADE,
    recipient       text NOT NULL,
    case_id         uuid NOT NULL
);
CREATE INDEX cancellations_sent_case ON cancellations_sent (case_id);

CREATE TABLE cancellation_confirmations (
    sender          text NOT NULL,
    message_id      uuid NOT NULL,              -- the confirmation's own id
    cancellation    uuid NOT NULL REFERENCES cancellations_sent (message_id) ON DELETE CASCADE,
    envelope_sha256 bytea NOT NULL,
    receipt         bytea NOT NULL,
    confirmed_at    timestamptz NOT NULL,       -- as the confirming node says
    withdrawn       integer NOT NULL CHECK (withdrawn >= 0),
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (sender, message_id)
);
CREATE INDEX cancellation_confirmations_of ON cancellation_confirmations (cancellation);

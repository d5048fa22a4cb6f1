-- Offline bundles (issue 12 item 1, docs/PROTOCOL.md section 15).
--
-- bundle_exports: which outbox rows went into which bundle for which peer. The rows stay
-- queued (the online sender keeps trying; the receiver's dedup makes it exactly once), and
-- an export takes only rows not in a bundle still waiting for its receipts, unless asked
-- (a lost bundle). receipted_at is set when a receipts bundle finishes the row.
--
-- bundles_received: every bundle imported, by (sender, bundle_id): bundle ids are chosen
-- by senders (like message ids, inbox UNIQUE (sender, message_id)), so one peer cannot
-- pre-empt another's. A bundle seen again is refused bundle_replayed.
--
-- A receipts bundle finishes a row that is queued (the online sender has not claimed it),
-- which the transition trigger allowed only from 'sending': it now allows queued>delivered
-- and queued>rejected for a row that travelled in a bundle, and only for one.

CREATE TABLE bundle_exports (
    bundle_id    uuid NOT NULL,
    peer         text NOT NULL,
    message_id   uuid NOT NULL REFERENCES outbox (message_id) ON DELETE CASCADE,
    exported_at  timestamptz NOT NULL,
    receipted_at timestamptz,
    PRIMARY KEY (bundle_id, message_id)
);
CREATE INDEX bundle_exports_waiting ON bundle_exports (message_id) WHERE receipted_at IS NULL;

CREATE TABLE bundles_received (
    sender       text NOT NULL,
    bundle_id    uuid NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('envelopes', 'receipts')),
    imported_at  timestamptz NOT NULL,
    items        integer NOT NULL CHECK (items >= 0),
    accepted     integer NOT NULL CHECK (accepted >= 0),
    refused      integer NOT NULL CHECK (refused >= 0),
    PRIMARY KEY (sender, bundle_id)
);

CREATE OR REPLACE FUNCTION outbox_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state = NEW.state THEN
        RETURN NEW;
    END IF;
    IF (OLD.state::text || '>' || NEW.state::text) IN (
        'queued>sending', 'sending>queued', 'sending>delivered', 'sending>rejected',
        'queued>expired', 'sending>expired', 'queued>dead', 'sending>dead',
        'rejected>queued', 'dead>queued'
    ) THEN
        RETURN NEW;
    END IF;
    IF (OLD.state::text || '>' || NEW.state::text) IN ('queued>delivered', 'queued>rejected')
       AND EXISTS (SELECT 1 FROM bundle_exports b WHERE b.message_id = NEW.message_id) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'outbox message % cannot go from % to %', OLD.message_id, OLD.state, NEW.state
        USING ERRCODE = 'check_violation';
END;
$$;

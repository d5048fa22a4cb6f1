-- The exchange: outbox, per-destination delivery state, inbox, receipts, audit log.

CREATE TYPE outbox_state AS ENUM ('queued', 'sending', 'delivered', 'rejected', 'expired', 'dead');

CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,           -- queue order
    message_id      uuid NOT NULL UNIQUE,
    recipient       text NOT NULL,
    case_id         uuid NOT NULL,
    kind            text NOT NULL,
    handling        text NOT NULL,
    sender_reference text NOT NULL DEFAULT '',
    local_client    text,
    envelope        bytea NOT NULL,
    envelope_sha256 bytea NOT NULL,
    state           outbox_state NOT NULL DEFAULT 'queued',
    attempts        integer NOT NULL DEFAULT 0,
    invalid_receipts integer NOT NULL DEFAULT 0,   -- answers whose receipt did not verify
    last_error      text,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    claimed_by      text,
    claimed_at      timestamptz,
    finished_at     timestamptz
);
CREATE INDEX outbox_pending ON outbox (recipient, id) WHERE state IN ('queued', 'sending');
CREATE INDEX outbox_case ON outbox (case_id, id);

-- State changes are checked here, not only in the code that makes them: an operator's
-- manual UPDATE, or a bug, cannot move a delivered message back to the queue.
CREATE FUNCTION outbox_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
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
    RAISE EXCEPTION 'outbox message % cannot go from % to %', OLD.message_id, OLD.state, NEW.state
        USING ERRCODE = 'check_violation';
END;
$$;
CREATE TRIGGER outbox_check_transition BEFORE UPDATE OF state ON outbox
    FOR EACH ROW EXECUTE FUNCTION outbox_check_transition();

CREATE TABLE destinations (
    peer            text PRIMARY KEY,
    failures        integer NOT NULL DEFAULT 0,
    retry_at        timestamptz NOT NULL DEFAULT '-infinity',
    last_error      text,
    last_success_at timestamptz,
    last_failure_at timestamptz
);

CREATE TABLE receipts (
    message_id      uuid PRIMARY KEY REFERENCES outbox (message_id),
    receipt         bytea NOT NULL,
    accepted        boolean NOT NULL,
    reason_code     text NOT NULL DEFAULT '',
    received_at     timestamptz NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE inbox (
    id              bigserial PRIMARY KEY,
    sender          text NOT NULL,
    message_id      uuid NOT NULL,
    case_id         uuid NOT NULL,
    kind            text NOT NULL,
    envelope        bytea NOT NULL,             -- kept sealed: the database never holds plaintext
    envelope_sha256 bytea NOT NULL,
    receipt         bytea NOT NULL,             -- the receipt we signed, returned again on replay
    created_at      timestamptz NOT NULL,
    received_at     timestamptz NOT NULL,
    UNIQUE (sender, message_id)
);

CREATE TABLE audit_log (
    seq             bigint PRIMARY KEY,
    at              timestamptz NOT NULL,
    actor           text NOT NULL,
    action          text NOT NULL,
    subject         text NOT NULL,
    detail          jsonb NOT NULL,
    prev_hash       bytea NOT NULL,
    hash            bytea NOT NULL
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- Delivery of incoming messages into local systems (webhooks, drop folders), and the files
-- picked up from outgoing drop folders.

CREATE TYPE local_delivery_state AS ENUM ('pending', 'delivering', 'delivered');

CREATE TABLE local_deliveries (
    id              bigserial PRIMARY KEY,
    client          text NOT NULL,
    inbox_id        bigint NOT NULL REFERENCES inbox (id),
    state           local_delivery_state NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    file_name       text,                        -- drop folders: the name being written
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (client, inbox_id)
);
CREATE INDEX local_deliveries_pending ON local_deliveries (client, id) WHERE state <> 'delivered';

CREATE FUNCTION local_delivery_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state = NEW.state OR (OLD.state::text || '>' || NEW.state::text) IN (
        'pending>delivering', 'delivering>delivered', 'pending>delivered'
    ) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'local delivery % cannot go from % to %', OLD.id, OLD.state, NEW.state
        USING ERRCODE = 'check_violation';
END;
$$;
CREATE TRIGGER local_delivery_check_transition BEFORE UPDATE OF state ON local_deliveries
    FOR EACH ROW EXECUTE FUNCTION local_delivery_check_transition();

CREATE TABLE dropped_files (
    client          text NOT NULL,
    sha256          bytea NOT NULL,
    file_name       text NOT NULL,
    messages        integer NOT NULL,
    rejected        integer NOT NULL,
    processed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client, sha256)
);

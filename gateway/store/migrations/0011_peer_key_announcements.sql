-- Key rollover without a flag day (docs/PROTOCOL.md section 12).
--
-- Incoming: the key announcements peers sent us (kept with the receipt we signed, so a
-- replay gets the same receipt, as for inbox rows) and the peer keys recorded from them or
-- imported by an operator. A recorded key is 'pending' until its valid_from has passed and
-- the node has taken it into use ('active'); the keyring merges recorded keys over the
-- configured ones, which always win.
--
-- Outgoing: this node's own published keys as last announced (the first start records the
-- configured keys as the baseline its peers already have), and which announcement carried
-- which new key to which peer, so that a new key is withheld from a peer until the peer has
-- accepted an announcement of it (its outbox row is 'delivered').

CREATE TABLE peer_key_announcements (
    sender          text NOT NULL,
    message_id      uuid NOT NULL,
    envelope_sha256 bytea NOT NULL,
    receipt         bytea NOT NULL,
    signed_by       text NOT NULL,          -- the sender's key id that signed it
    created_at      timestamptz NOT NULL,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (sender, message_id)
);

CREATE TYPE peer_key_state AS ENUM ('pending', 'active');

CREATE TABLE peer_keys_recorded (
    peer            text NOT NULL,
    key_id          text NOT NULL,
    signing_public  bytea NOT NULL CHECK (length(signing_public) = 32),
    encryption_public bytea NOT NULL CHECK (length(encryption_public) = 32),
    valid_from      timestamptz NOT NULL,
    valid_until     timestamptz NOT NULL,
    source          text NOT NULL CHECK (source IN ('announcement', 'import')),
    announcement    uuid,                   -- the announcement's message id, for 'announcement'
    state           peer_key_state NOT NULL DEFAULT 'pending',
    recorded_at     timestamptz NOT NULL,
    activated_at    timestamptz,
    PRIMARY KEY (peer, key_id),
    CHECK (valid_until > valid_from)
);

-- A recorded key only goes forward: pending to active. Its public keys never change (an
-- announcement naming a known key id with other keys is refused before it gets here), and
-- its window may only shrink.
CREATE FUNCTION peer_keys_recorded_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.signing_public, NEW.encryption_public) IS DISTINCT FROM
       (OLD.signing_public, OLD.encryption_public) THEN
        RAISE EXCEPTION 'peer key %/% cannot change its public keys', OLD.peer, OLD.key_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.valid_from < OLD.valid_from OR NEW.valid_until > OLD.valid_until THEN
        RAISE EXCEPTION 'peer key %/% cannot widen its window', OLD.peer, OLD.key_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.state = 'active' AND NEW.state = 'pending' THEN
        RAISE EXCEPTION 'peer key %/% cannot go from active to pending', OLD.peer, OLD.key_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER peer_keys_recorded_check BEFORE UPDATE ON peer_keys_recorded
    FOR EACH ROW EXECUTE FUNCTION peer_keys_recorded_check();

CREATE TABLE own_keys_published (
    key_id          text PRIMARY KEY,
    signing_public  bytea NOT NULL,
    encryption_public bytea NOT NULL,
    valid_from      timestamptz NOT NULL,
    valid_until     timestamptz NOT NULL,
    first_seen_at   timestamptz NOT NULL
);

CREATE TABLE own_key_announcements (
    message_id      uuid PRIMARY KEY,       -- the announcement's outbox row
    peer            text NOT NULL,
    new_key_ids     text[] NOT NULL,        -- keys this announcement published for the first time
    queued_at       timestamptz NOT NULL
);
CREATE INDEX own_key_announcements_peer ON own_key_announcements (peer);

-- Console users and their server-side sessions.
--
-- A session is known by the SHA-256 of its id only: the id itself lives in the user's cookie,
-- so a copy of this table (a backup, a read replica) signs nobody in. Every time a session
-- is checked against is passed in by the gateway (its clock), never read from now(), so the
-- idle timeout, the absolute lifetime and the lock-out can be tested without waiting.
CREATE TYPE console_role AS ENUM ('officer', 'supervisor', 'operator', 'admin');

CREATE TABLE console_users (
    id              bigserial PRIMARY KEY,
    -- A sign-in name, not a person's name: ASCII, so that look-alike letters cannot make two
    -- accounts that read the same.
    name            text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    role            console_role NOT NULL,
    language        text NOT NULL CHECK (language IN ('vi', 'km', 'en')),
    password_hash   text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    disabled        boolean NOT NULL DEFAULT false,
    -- Failed sign-ins since the last success or the end of the last lock.
    failed_signins  integer NOT NULL DEFAULT 0 CHECK (failed_signins >= 0),
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE console_sessions (
    id_sha256       bytea PRIMARY KEY CHECK (length(id_sha256) = 32),
    user_id         bigint NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    csrf_token      text NOT NULL,
    created_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    -- The absolute end; the idle end (last_seen_at + the configured timeout) is checked at
    -- each look-up, so a shorter timeout in the config applies to open sessions at once.
    expires_at      timestamptz NOT NULL
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);

-- Disabling is final for the sessions: whatever statement disables a user (the CLI, a
-- hand-written UPDATE) ends the user's sessions in the same transaction. The session look-up
-- checks `disabled` too, so this is belt and braces, and keeps the table clean.
CREATE FUNCTION console_user_disabled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.disabled AND NOT OLD.disabled THEN
        DELETE FROM console_sessions WHERE user_id = NEW.id;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER console_user_disabled AFTER UPDATE OF disabled ON console_users
    FOR EACH ROW EXECUTE FUNCTION console_user_disabled();

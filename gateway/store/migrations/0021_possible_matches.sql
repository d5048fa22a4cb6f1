-- Possible matches (issue 13 item 2): two people named in two open cases who may be one
-- person (gateway/search/matching.py decides, gateway/search/finder.py records).
--
-- One row per pair of index entries, stored with the lower entry id first, so the pair found
-- from either side, or found again by a re-run, is one row (UNIQUE, ON CONFLICT DO NOTHING).
-- case_id is entry_id's case, other_case_id other_entry_id's; the pair shows on both case
-- pages. reasons holds reason codes only, never a name or a number. The state moves once,
-- open -> confirmed or open -> dismissed, with who (a console user) and when; nothing else of
-- a row changes, whatever the code or a hand-written UPDATE tries (trigger below).
--
-- The finder's cursor (the last index entry examined) is one row, advanced in the
-- transaction that records the pairs found up to it: after a crash the finder starts again
-- where the last commit left it, and records nothing twice.
CREATE TYPE possible_match_state AS ENUM ('open', 'confirmed', 'dismissed');

CREATE TABLE possible_matches (
    id              bigserial PRIMARY KEY,
    case_id         uuid NOT NULL,
    other_case_id   uuid NOT NULL,
    entry_id        bigint NOT NULL,
    other_entry_id  bigint NOT NULL,
    reasons         text[] NOT NULL CHECK (
        cardinality(reasons) > 0
        AND reasons <@ ARRAY['document_number', 'name', 'birth_year', 'sex']::text[]
    ),
    state           possible_match_state NOT NULL DEFAULT 'open',
    decided_by      bigint REFERENCES console_users (id),
    decided_at      timestamptz,
    created_at      timestamptz NOT NULL,
    UNIQUE (entry_id, other_entry_id),
    CHECK (entry_id < other_entry_id),
    CHECK (case_id <> other_case_id),
    CHECK ((state = 'open') = (decided_by IS NULL AND decided_at IS NULL))
);
CREATE INDEX possible_matches_case ON possible_matches (case_id);
CREATE INDEX possible_matches_other_case ON possible_matches (other_case_id);
CREATE INDEX possible_matches_open ON possible_matches (id) WHERE state = 'open';

CREATE FUNCTION possible_match_check_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.id, NEW.case_id, NEW.other_case_id, NEW.entry_id, NEW.other_entry_id, NEW.reasons,
        NEW.created_at) IS DISTINCT FROM (OLD.id, OLD.case_id, OLD.other_case_id,
        OLD.entry_id, OLD.other_entry_id, OLD.reasons, OLD.created_at) THEN
        RAISE EXCEPTION 'possible match % cannot be rewritten, only decided', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF (OLD.state::text || '>' || NEW.state::text) IN ('open>confirmed', 'open>dismissed') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'possible match % cannot go from % to %', OLD.id, OLD.state, NEW.state
        USING ERRCODE = 'check_violation';
END;
$$;
CREATE TRIGGER possible_match_check_transition BEFORE UPDATE ON possible_matches
    FOR EACH ROW EXECUTE FUNCTION possible_match_check_transition();

CREATE TABLE possible_match_cursor (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    last_entry_id   bigint NOT NULL CHECK (last_entry_id >= 0)
);
INSERT INTO possible_match_cursor (last_entry_id) VALUES (0);

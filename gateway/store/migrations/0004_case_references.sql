-- Which case a sender's own reference belongs to, so that an update or a cancellation a
-- local system sends under the same reference (so_hieu, ref) joins the original case.
CREATE TABLE case_references (
    kind            text NOT NULL,
    reference       text NOT NULL,
    case_id         uuid NOT NULL,
    first_seen      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, reference)
);

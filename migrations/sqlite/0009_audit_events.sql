-- The audit trail: append-only, one row per event, written in the same
-- transaction as the change it records. `detail` is a small JSON object
-- without secrets.
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    account_id  TEXT,
    actor_id    TEXT,
    address     TEXT,
    user_agent  TEXT,
    api         TEXT,
    request_id  TEXT,
    detail      TEXT NOT NULL
);
CREATE INDEX audit_events_account ON audit_events (account_id, at);
CREATE INDEX audit_events_kind ON audit_events (kind, at);
CREATE INDEX audit_events_at ON audit_events (at);

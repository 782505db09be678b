-- Email verification, password recovery and the mail outbox.

CREATE TABLE email_verifications (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose      TEXT NOT NULL,
    email        TEXT NOT NULL,
    code_digest  TEXT NOT NULL,
    link_digest  TEXT NOT NULL UNIQUE,
    attempts     INTEGER NOT NULL DEFAULT 0,
    resent       BOOLEAN NOT NULL,
    created_at   INTEGER NOT NULL,
    code_expires_at INTEGER NOT NULL,
    link_expires_at INTEGER NOT NULL,
    used_at      INTEGER,
    replaced_at  INTEGER
);
CREATE INDEX email_verifications_account ON email_verifications (account_id, created_at);
CREATE INDEX email_verifications_email ON email_verifications (email);

CREATE TABLE password_resets (
    digest      TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX password_resets_account ON password_resets (account_id);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

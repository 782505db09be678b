-- Email verification, password recovery and the mail outbox.

CREATE TABLE email_verifications (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose      TEXT NOT NULL,
    email        TEXT NOT NULL,
    code_digest  TEXT NOT NULL,
    link_digest  TEXT NOT NULL UNIQUE,
    attempts     BIGINT NOT NULL DEFAULT 0,
    resent       BOOLEAN NOT NULL,
    created_at   BIGINT NOT NULL,
    code_expires_at BIGINT NOT NULL,
    link_expires_at BIGINT NOT NULL,
    used_at      BIGINT,
    replaced_at  BIGINT
);
CREATE INDEX email_verifications_account ON email_verifications (account_id, created_at);
CREATE INDEX email_verifications_email ON email_verifications (email);

CREATE TABLE password_resets (
    digest      TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX password_resets_account ON password_resets (account_id);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);

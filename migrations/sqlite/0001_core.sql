-- Accounts, sessions, refresh tokens, signing keys and sign-in throttling.
-- Times are Unix milliseconds; the PostgreSQL tree has the same tables.

CREATE TABLE accounts (
    id                  TEXT PRIMARY KEY,
    email               TEXT,
    email_normalized    TEXT CONSTRAINT accounts_email_key UNIQUE,
    username            TEXT,
    username_normalized TEXT CONSTRAINT accounts_username_key UNIQUE,
    password_hash       TEXT NOT NULL,
    email_verified_at   INTEGER,
    roles               TEXT NOT NULL,
    custom_username     BOOLEAN NOT NULL DEFAULT FALSE,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    CHECK (email IS NOT NULL OR username IS NOT NULL)
);
CREATE INDEX accounts_created_at ON accounts (created_at);

CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    secret_digest   TEXT NOT NULL UNIQUE,
    remember_me     BOOLEAN NOT NULL,
    user_agent      TEXT,
    ip              TEXT,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    idle_timeout_ms INTEGER NOT NULL,
    revoked_at      INTEGER
);
CREATE INDEX sessions_account_id ON sessions (account_id);

CREATE TABLE refresh_tokens (
    digest           TEXT PRIMARY KEY,
    session_id       TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at       INTEGER NOT NULL,
    used_at          INTEGER,
    sealed_successor TEXT
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    private_key TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);

CREATE TABLE login_failures (
    login          TEXT PRIMARY KEY,
    failures       INTEGER NOT NULL,
    last_failed_at INTEGER NOT NULL,
    locked_until   INTEGER
);

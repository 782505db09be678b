-- Passkeys (WebAuthn credentials), by their credential id (base64url),
-- and the ceremonies in progress (the state webauthn-rs keeps between a
-- challenge and its answer: five minutes, used once).
CREATE TABLE passkeys (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    credential   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_account ON passkeys (account_id);
CREATE TABLE webauthn_ceremonies (
    id         TEXT PRIMARY KEY,
    account_id TEXT,
    purpose    TEXT NOT NULL,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

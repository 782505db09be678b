-- Second factors. A TOTP secret (base64, encrypted under the
-- key-encryption key when one is set) counts once confirmed; `last_step`
-- is the newest 30-second step a code was accepted for, so a code is
-- never accepted twice.
CREATE TABLE mfa_totp (
    account_id   TEXT PRIMARY KEY,
    secret       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT NOT NULL DEFAULT 0
);
-- Single-use recovery codes, stored as keyed digests.
CREATE TABLE recovery_codes (
    digest     TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX recovery_codes_account ON recovery_codes (account_id);
-- The step between a right password and a session: the mfa_token's
-- digest, bound to its account, five minutes, single use, five tries.
CREATE TABLE mfa_challenges (
    digest      TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    remember_me BOOLEAN NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    used_at     BIGINT
);

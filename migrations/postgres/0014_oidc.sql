-- OpenID Connect provider (design §8): clients, authorization codes,
-- consents, device codes, and the grant behind each session a client holds.
CREATE TABLE oauth_clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    -- SHA-256 of the secret; NULL for a public client (PKCE, no secret).
    secret_digest             TEXT,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    backchannel_logout_uri    TEXT,
    scopes                    TEXT NOT NULL,
    grants                    TEXT NOT NULL,
    trusted                   BOOLEAN NOT NULL,
    id_token_alg              TEXT NOT NULL,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);
-- Single use, 60 seconds; a replay revokes the session it issued.
CREATE TABLE oauth_codes (
    digest            TEXT PRIMARY KEY,
    client_id         TEXT NOT NULL,
    account_id        TEXT NOT NULL,
    parent_session_id TEXT NOT NULL,
    redirect_uri      TEXT NOT NULL,
    scope             TEXT NOT NULL,
    nonce             TEXT,
    code_challenge    TEXT,
    auth_time         BIGINT NOT NULL,
    amr               TEXT NOT NULL,
    expires_at        BIGINT NOT NULL,
    used_at           BIGINT,
    issued_session_id TEXT
);
-- What a client's session was granted: its scope, the browser session it
-- came from (whose end ends it, unless offline_access), and whether a
-- back-channel logout is owed when it ends.
CREATE TABLE oauth_grants (
    session_id        TEXT PRIMARY KEY,
    client_id         TEXT NOT NULL,
    scope             TEXT NOT NULL,
    parent_session_id TEXT,
    auth_time         BIGINT NOT NULL,
    amr               TEXT NOT NULL,
    logout_pending    BOOLEAN NOT NULL,
    logout_attempts   BIGINT NOT NULL DEFAULT 0,
    logout_next_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX oauth_grants_parent ON oauth_grants (parent_session_id);
CREATE INDEX oauth_grants_client ON oauth_grants (client_id);
CREATE INDEX oauth_grants_logout ON oauth_grants (logout_next_at) WHERE logout_pending;
CREATE TABLE oauth_consents (
    account_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);
-- RFC 8628: the device polls with device_code; the person types user_code.
CREATE TABLE oauth_device_codes (
    digest            TEXT PRIMARY KEY,
    user_code         TEXT NOT NULL UNIQUE,
    client_id         TEXT NOT NULL,
    scope             TEXT NOT NULL,
    expires_at        BIGINT NOT NULL,
    interval_secs     BIGINT NOT NULL,
    last_polled_at    BIGINT,
    -- NULL while pending; 'approved', 'denied' or 'used'.
    decision          TEXT,
    account_id        TEXT,
    parent_session_id TEXT,
    auth_time         BIGINT,
    amr               TEXT
);

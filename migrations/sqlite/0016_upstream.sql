-- Sign-in with upstream identity providers (design §9).
-- An identity at a provider, linked to one account.
CREATE TABLE upstream_identities (
    provider       TEXT NOT NULL,
    subject        TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    email          TEXT,
    linked_at      INTEGER NOT NULL,
    last_signed_in INTEGER,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX upstream_identities_account ON upstream_identities (account_id);
-- A sign-in or link sent to a provider and not back yet: single use,
-- ten minutes, found by the SHA-256 of its state.
CREATE TABLE upstream_flows (
    state_digest  TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    -- Set when a signed-in account links a new identity.
    link_account  TEXT,
    expires_at    INTEGER NOT NULL
);
-- An identity whose verified email names an existing account, waiting for
-- that account's owner to confirm by signing in locally.
CREATE TABLE upstream_pending_links (
    digest     TEXT PRIMARY KEY,
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    email      TEXT NOT NULL,
    account_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

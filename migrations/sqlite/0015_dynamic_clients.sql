-- Clients registered by RFC 7591 dynamic registration (anyone may make
-- one with --oidc-dynamic-registration): never trusted, and pruned when
-- unused.
ALTER TABLE oauth_clients ADD COLUMN dynamic BOOLEAN NOT NULL DEFAULT FALSE;

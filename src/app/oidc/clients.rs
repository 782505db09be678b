//! Registering and managing clients (`klucznik client …`, the admin API):
//! every change audited, a secret shown once and stored as its SHA-256
//! (it is 256 random bits: a slow hash would add nothing).

use super::model::{
    GRANT_CLIENT_CREDENTIALS, GRANT_CODE, GRANT_DEVICE, GRANT_REFRESH, GRANTS, OAuthClient, SCOPES,
};
use crate::app::audit::{AuditKind, actor_id};
use crate::app::tokens::JwtAlgorithm;
use crate::app::{Actor, Core, CoreError, secrets};
use crate::domain::{Invalid, Limited};
use serde_json::json;
use std::net::IpAddr;

/// What `client create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// No secret: PKCE alone (single-page and native apps).
    pub public: bool,
    /// Skips the consent screen.
    pub trusted: bool,
    /// Empty: every scope Klucznik knows.
    pub scopes: Vec<String>,
    /// Empty: authorization code and refresh token.
    pub grants: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// `None`: RS256.
    pub id_token_alg: Option<String>,
}

/// What `client update` changes; `None` keeps a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ClientChange {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub trusted: Option<bool>,
    pub scopes: Option<Vec<String>>,
    pub grants: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// `Some(None)` removes it.
    pub backchannel_logout_uri: Option<Option<String>>,
    pub id_token_alg: Option<String>,
}

/// A client just created or given a new secret: the secret, once.
#[derive(Debug, Clone)]
pub struct IssuedClient {
    pub client: OAuthClient,
    pub secret: Option<String>,
}

fn invalid(field: &'static str, reason: &'static str) -> CoreError {
    CoreError::Invalid(Invalid::Field { field, reason })
}

/// An absolute URI without a fragment; `http` only for loopback hosts
/// and `localhost` (development), unless `any_scheme` (a native app's
/// private-use scheme, RFC 8252).
fn check_uri(field: &'static str, uri: &str, any_scheme: bool) -> Result<(), CoreError> {
    let parsed = url::Url::parse(uri).map_err(|_| invalid(field, "must be an absolute URI"))?;
    if parsed.fragment().is_some() {
        return Err(invalid(field, "must not have a fragment"));
    }
    let local = matches!(parsed.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if local => Ok(()),
        "http" => Err(invalid(field, "must use https (http only for localhost)")),
        _ if any_scheme && parsed.scheme().contains('.') => Ok(()),
        _ => Err(invalid(field, "must use https")),
    }
}

fn checked(client: &OAuthClient) -> Result<(), CoreError> {
    if client.name.trim().is_empty() || client.name.len() > 200 {
        return Err(invalid("name", "must be 1 to 200 characters"));
    }
    for uri in &client.redirect_uris {
        check_uri("redirect_uris", uri, true)?;
    }
    for uri in &client.post_logout_redirect_uris {
        check_uri("post_logout_redirect_uris", uri, true)?;
    }
    if let Some(uri) = &client.backchannel_logout_uri {
        check_uri("backchannel_logout_uri", uri, false)?;
    }
    if let Some(scope) = client.scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        let _ = scope;
        return Err(invalid(
            "scopes",
            "openid, profile, email, roles and offline_access only",
        ));
    }
    if client.grants.iter().any(|g| !GRANTS.contains(&g.as_str())) {
        return Err(invalid(
            "grants",
            "authorization_code, refresh_token, client_credentials and the device code only",
        ));
    }
    if JwtAlgorithm::for_id_tokens(&client.id_token_alg).is_none() {
        return Err(invalid("id_token_alg", "RS256, ES256 or EdDSA"));
    }
    if client.allows_grant(GRANT_CODE) && client.redirect_uris.is_empty() {
        return Err(invalid("redirect_uris", "the authorization code grant needs one"));
    }
    if client.is_public() && client.allows_grant(GRANT_CLIENT_CREDENTIALS) {
        return Err(invalid(
            "grants",
            "a public client has no credentials to grant on",
        ));
    }
    Ok(())
}

impl Core {
    /// Registers a client; a confidential one gets its secret, shown once.
    pub async fn create_client(&self, actor: Actor<'_>, new: NewClient) -> Result<IssuedClient, CoreError> {
        Self::ensure_admin(actor)?;
        self.insert_new_client(new, false, actor_id(actor)).await
    }

    /// RFC 7591 dynamic registration, by anyone, when the operator turned it
    /// on: never trusted (its users always see the consent screen), counted
    /// per address, and pruned when nobody signs in to it.
    pub async fn register_client(
        &self,
        new: NewClient,
        address: Option<IpAddr>,
    ) -> Result<IssuedClient, CoreError> {
        if !self.settings.oidc_dynamic_registration {
            return Err(CoreError::NotFound("dynamic client registration"));
        }
        self.admit(Limited::Ceremonies, address).await?;
        let new = NewClient {
            trusted: false,
            ..new
        };
        self.insert_new_client(new, true, None).await
    }

    async fn insert_new_client(
        &self,
        new: NewClient,
        dynamic: bool,
        actor: Option<String>,
    ) -> Result<IssuedClient, CoreError> {
        let now = self.now();
        let secret = (!new.public).then(secrets::random_secret);
        let or_default = |list: Vec<String>, default: &[&str]| {
            if list.is_empty() {
                default.iter().map(|s| (*s).to_owned()).collect()
            } else {
                list
            }
        };
        let client = OAuthClient {
            id: format!("kc_{}", uuid::Uuid::now_v7().simple()),
            name: new.name.trim().to_owned(),
            secret_digest: secret.as_deref().map(secrets::digest),
            redirect_uris: new.redirect_uris,
            post_logout_redirect_uris: new.post_logout_redirect_uris,
            backchannel_logout_uri: new.backchannel_logout_uri,
            scopes: or_default(new.scopes, &SCOPES),
            grants: or_default(new.grants, &[GRANT_CODE, GRANT_REFRESH]),
            trusted: new.trusted,
            id_token_alg: new.id_token_alg.unwrap_or_else(|| "RS256".into()),
            created_at: now,
            updated_at: now,
            dynamic,
        };
        checked(&client)?;
        let detail = json!({ "client": client.id, "name": client.name, "dynamic": dynamic });
        let event = self.audit_event(AuditKind::ClientCreated, None, actor, detail);
        self.store.insert_client(&client, &[event]).await?;
        Ok(IssuedClient { client, secret })
    }

    pub async fn clients(&self, actor: Actor<'_>) -> Result<Vec<OAuthClient>, CoreError> {
        Self::ensure_admin(actor)?;
        Ok(self.store.clients().await?)
    }

    pub async fn client(&self, actor: Actor<'_>, id: &str) -> Result<OAuthClient, CoreError> {
        Self::ensure_admin(actor)?;
        self.store
            .client_by_id(id)
            .await?
            .ok_or(CoreError::NotFound("client"))
    }

    pub async fn update_client(
        &self,
        actor: Actor<'_>,
        id: &str,
        change: ClientChange,
    ) -> Result<OAuthClient, CoreError> {
        let mut client = self.client(actor, id).await?;
        let ClientChange {
            name,
            redirect_uris,
            trusted,
            scopes,
            grants,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            id_token_alg,
        } = change;
        client.name = name.map_or(client.name, |n| n.trim().to_owned());
        client.redirect_uris = redirect_uris.unwrap_or(client.redirect_uris);
        client.trusted = trusted.unwrap_or(client.trusted);
        client.scopes = scopes.unwrap_or(client.scopes);
        client.grants = grants.unwrap_or(client.grants);
        client.post_logout_redirect_uris =
            post_logout_redirect_uris.unwrap_or(client.post_logout_redirect_uris);
        client.backchannel_logout_uri = backchannel_logout_uri.unwrap_or(client.backchannel_logout_uri);
        client.id_token_alg = id_token_alg.unwrap_or(client.id_token_alg);
        client.updated_at = self.now();
        checked(&client)?;
        self.save_client(actor, &client, "updated").await?;
        Ok(client)
    }

    /// A new secret for a confidential client; the old one stops working.
    pub async fn rotate_client_secret(&self, actor: Actor<'_>, id: &str) -> Result<IssuedClient, CoreError> {
        let mut client = self.client(actor, id).await?;
        if client.is_public() {
            return Err(invalid("client", "is public: it has no secret"));
        }
        let secret = secrets::random_secret();
        client.secret_digest = Some(secrets::digest(&secret));
        client.updated_at = self.now();
        self.save_client(actor, &client, "secret rotated").await?;
        Ok(IssuedClient {
            client,
            secret: Some(secret),
        })
    }

    async fn save_client(&self, actor: Actor<'_>, client: &OAuthClient, what: &str) -> Result<(), CoreError> {
        let detail = json!({ "client": client.id, "change": what });
        let event = self.audit_event(AuditKind::ClientChanged, None, actor_id(actor), detail);
        if !self.store.update_client(client, &[event]).await? {
            return Err(CoreError::NotFound("client"));
        }
        Ok(())
    }

    /// Deletes a client: its consents go and its sessions end.
    pub async fn delete_client(&self, actor: Actor<'_>, id: &str) -> Result<(), CoreError> {
        Self::ensure_admin(actor)?;
        let detail = json!({ "client": id });
        let event = self.audit_event(AuditKind::ClientDeleted, None, actor_id(actor), detail);
        if !self.store.delete_client(id, self.now(), &[event]).await? {
            return Err(CoreError::NotFound("client"));
        }
        Ok(())
    }

    /// The client a token request authenticates as: `client_secret_basic`
    /// or `_post` for a confidential client, `none` for a public one.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: Option<&str>,
    ) -> Result<OAuthClient, super::OAuthError> {
        if client_id.is_empty() || client_id.len() > 200 {
            return Err(super::OAuthError::invalid_client());
        }
        let client = self.store.client_by_id(client_id).await?;
        let good = match (&client, secret) {
            (Some(client), Some(secret)) => client.secret_digest.as_deref().is_some_and(|digest| {
                secret.len() <= 256
                    && secrets::constant_time_eq(secrets::digest(secret).as_bytes(), digest.as_bytes())
            }),
            (Some(client), None) => client.is_public(),
            (None, _) => false,
        };
        match client {
            Some(client) if good => Ok(client),
            _ => Err(super::OAuthError::invalid_client()),
        }
    }

    /// A client by id, for the authorization endpoint (no credentials there).
    pub async fn registered_client(&self, client_id: &str) -> Result<Option<OAuthClient>, CoreError> {
        if client_id.is_empty() || client_id.len() > 200 {
            return Ok(None);
        }
        Ok(self.store.client_by_id(client_id).await?)
    }
}

/// Grants named on the command line or in the API: short names too.
pub fn grant_name(raw: &str) -> Option<&'static str> {
    match raw {
        "authorization_code" | "code" => Some(GRANT_CODE),
        "refresh_token" | "refresh" => Some(GRANT_REFRESH),
        "client_credentials" => Some(GRANT_CLIENT_CREDENTIALS),
        "device_code" | "device" | GRANT_DEVICE => Some(GRANT_DEVICE),
        _ => None,
    }
}

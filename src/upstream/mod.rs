//! The network side of upstream sign-in (`IdentityProviders`): OpenID
//! Connect providers through the `openidconnect` crate (discovery fetched
//! when first needed, and again when an ID token names a key it does not
//! list), and GitHub through `oauth2` plus its user and email API. Every
//! call has a timeout, so a slow provider gives a clear refusal, not a
//! hanging page.

mod github;

use crate::app::ports::IdentityProviders;
use crate::app::upstream::{FlowSecrets, ProviderFailure, UpstreamIdentity, UpstreamKind, UpstreamProvider};
use async_trait::async_trait;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A provider that has not answered by then is "not reachable".
const TIMEOUT: Duration = Duration::from_secs(10);
/// Discovery documents (with their keys) are fetched again after this.
const DISCOVERY_KEPT: Duration = Duration::from_secs(3600);

/// Providers over HTTPS (or HTTP on loopback, for development).
pub struct ProviderNetwork {
    http: reqwest::Client,
    discovered: Mutex<HashMap<String, (CoreProviderMetadata, Instant)>>,
}

impl ProviderNetwork {
    pub fn new() -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            // A provider's redirect is never followed (SSRF, RFC 6749 §10).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("Klucznik/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            discovered: Mutex::default(),
        })
    }

    /// The provider's discovery document, fetched when first needed or
    /// when `fresh` (an unknown key), else kept for an hour.
    async fn metadata(
        &self,
        provider: &UpstreamProvider,
        issuer: &url::Url,
        fresh: bool,
    ) -> Result<CoreProviderMetadata, ProviderFailure> {
        if !fresh
            && let Some((metadata, at)) = self.discovered.lock().await.get(&provider.name)
            && at.elapsed() < DISCOVERY_KEPT
        {
            return Ok(metadata.clone());
        }
        // Fetched without the lock held: one slow provider holds up no other.
        let issuer = IssuerUrl::new(issuer.as_str().trim_end_matches('/').to_owned())
            .map_err(|e| unreachable(provider, &e))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| {
                tracing::warn!(provider = %provider.name, error = %e, "discovery failed");
                unreachable(provider, &e)
            })?;
        (self.discovered.lock().await).insert(provider.name.clone(), (metadata.clone(), Instant::now()));
        Ok(metadata)
    }

    async fn oidc_identity(
        &self,
        provider: &UpstreamProvider,
        issuer: &url::Url,
        code: &str,
        flow: &FlowSecrets,
    ) -> Result<UpstreamIdentity, ProviderFailure> {
        let metadata = self.metadata(provider, issuer, false).await?;
        let userinfo_known = metadata.userinfo_endpoint().is_some();
        let client = oidc_client(provider, metadata)?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| rejected(provider, &e))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| token_failure(provider, &e))?;
        let id_token = tokens.id_token().ok_or_else(|| {
            ProviderFailure::Rejected(provider.label.clone(), "no ID token came back".into())
        })?;
        let nonce = Nonce::new(flow.nonce.clone());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider rotated its keys: fetch them again, once.
                let metadata = self.metadata(provider, issuer, true).await?;
                let client = oidc_client(provider, metadata)?;
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map_err(|e| rejected(provider, &e))?
                    .clone()
            }
            Err(e) => return Err(rejected(provider, &e)),
        };
        let mut identity = UpstreamIdentity {
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
        };
        if identity.email.is_none() && userinfo_known {
            // Some providers (Entra ID) leave the address out of the ID token.
            let info: CoreUserInfoClaims = client
                .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
                .map_err(|e| rejected(provider, &e))?
                .request_async(&self.http)
                .await
                .map_err(|e| rejected(provider, &e))?;
            identity.email = info.email().map(|e| e.to_string());
            identity.email_verified = info.email_verified().unwrap_or(false);
        }
        Ok(identity)
    }
}

type DiscoveredClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

fn oidc_client(
    provider: &UpstreamProvider,
    metadata: CoreProviderMetadata,
) -> Result<DiscoveredClient, ProviderFailure> {
    let secret = (provider.client_secret.as_ref()).map(|s| ClientSecret::new(s.expose().to_owned()));
    let redirect = RedirectUrl::new(provider.redirect_uri.clone()).map_err(|e| rejected(provider, &e))?;
    Ok(
        CoreClient::from_provider_metadata(metadata, ClientId::new(provider.client_id.clone()), secret)
            .set_redirect_uri(redirect),
    )
}

fn unreachable(provider: &UpstreamProvider, error: &dyn std::fmt::Display) -> ProviderFailure {
    tracing::warn!(provider = %provider.name, %error, "upstream provider not reachable");
    ProviderFailure::Unreachable(provider.label.clone())
}

fn rejected(provider: &UpstreamProvider, error: &dyn std::fmt::Display) -> ProviderFailure {
    tracing::warn!(provider = %provider.name, %error, "upstream answer refused");
    ProviderFailure::Rejected(provider.label.clone(), error.to_string())
}

/// A failed code exchange: the network (not reachable) or the provider's
/// refusal (an error answer).
fn token_failure<RE, T>(
    provider: &UpstreamProvider,
    error: &openidconnect::RequestTokenError<RE, T>,
) -> ProviderFailure
where
    RE: std::error::Error + 'static,
    T: openidconnect::ErrorResponse + 'static,
{
    match error {
        openidconnect::RequestTokenError::ServerResponse(answer) => rejected(provider, answer),
        other => unreachable(provider, other),
    }
}

#[async_trait]
impl IdentityProviders for ProviderNetwork {
    async fn authorization_url(
        &self,
        provider: &UpstreamProvider,
        flow: &FlowSecrets,
    ) -> Result<url::Url, ProviderFailure> {
        let verifier = PkceCodeVerifier::new(flow.pkce_verifier.clone());
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        match &provider.kind {
            UpstreamKind::Oidc { issuer } => {
                let client = oidc_client(provider, self.metadata(provider, issuer, false).await?)?;
                let (state, nonce) = (flow.state.clone(), flow.nonce.clone());
                let mut request = client.authorize_url(
                    CoreAuthenticationFlow::AuthorizationCode,
                    move || CsrfToken::new(state),
                    move || Nonce::new(nonce),
                );
                for scope in provider.scopes.iter().filter(|s| *s != "openid") {
                    request = request.add_scope(Scope::new(scope.clone()));
                }
                Ok(request.set_pkce_challenge(challenge).url().0)
            }
            UpstreamKind::GitHub { web, .. } => github::authorization_url(provider, web, flow, &challenge),
        }
    }

    async fn identity(
        &self,
        provider: &UpstreamProvider,
        code: &str,
        flow: &FlowSecrets,
    ) -> Result<UpstreamIdentity, ProviderFailure> {
        match &provider.kind {
            UpstreamKind::Oidc { issuer } => self.oidc_identity(provider, issuer, code, flow).await,
            UpstreamKind::GitHub { web, api } => {
                github::identity(&self.http, provider, (web, api), code, flow).await
            }
        }
    }
}

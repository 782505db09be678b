//! GitHub (github.com, or a GitHub Enterprise Server): OAuth 2 with PKCE,
//! then `GET /user` for the id and `GET /user/emails` for the primary
//! address and whether GitHub verified it. GitHub has no ID token.

use crate::app::upstream::{FlowSecrets, ProviderFailure, UpstreamIdentity, UpstreamProvider};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;

fn client(
    provider: &UpstreamProvider,
    web: &url::Url,
) -> Result<
    BasicClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    >,
    ProviderFailure,
> {
    let at = |path: &str| format!("{}{path}", web.as_str().trim_end_matches('/'));
    let invalid = |e: url::ParseError| ProviderFailure::Rejected(provider.label.clone(), e.to_string());
    let mut client = BasicClient::new(ClientId::new(provider.client_id.clone()))
        .set_auth_uri(AuthUrl::new(at("/login/oauth/authorize")).map_err(invalid)?)
        .set_token_uri(TokenUrl::new(at("/login/oauth/access_token")).map_err(invalid)?)
        .set_redirect_uri(RedirectUrl::new(provider.redirect_uri.clone()).map_err(invalid)?)
        .set_auth_type(AuthType::RequestBody);
    if let Some(secret) = &provider.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.expose().to_owned()));
    }
    Ok(client)
}

pub(super) fn authorization_url(
    provider: &UpstreamProvider,
    web: &url::Url,
    flow: &FlowSecrets,
    challenge: &PkceCodeChallenge,
) -> Result<url::Url, ProviderFailure> {
    let state = flow.state.clone();
    let client = client(provider, web)?;
    let mut request = client.authorize_url(move || CsrfToken::new(state));
    for scope in &provider.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    Ok(request.set_pkce_challenge(challenge.clone()).url().0)
}

#[derive(Deserialize)]
struct User {
    id: u64,
}

#[derive(Deserialize)]
struct Address {
    email: String,
    primary: bool,
    verified: bool,
}

pub(super) async fn identity(
    http: &reqwest::Client,
    provider: &UpstreamProvider,
    (web, api): (&url::Url, &url::Url),
    code: &str,
    flow: &FlowSecrets,
) -> Result<UpstreamIdentity, ProviderFailure> {
    let tokens = client(provider, web)?
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
        .request_async(http)
        .await
        .map_err(|e| match e {
            // GitHub answers a bad code with a 200 that is not a token.
            oauth2::RequestTokenError::ServerResponse(_) | oauth2::RequestTokenError::Parse(..) => {
                super::rejected(provider, &e)
            }
            other => super::unreachable(provider, &other),
        })?;
    let token = tokens.access_token().secret();
    let get = |path: &str| {
        http.get(format!("{}{path}", api.as_str().trim_end_matches('/')))
            .bearer_auth(token)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .send()
    };
    let user: User = read(provider, get("/user").await).await?;
    let addresses: Vec<Address> = read(provider, get("/user/emails").await).await?;
    let primary = addresses.into_iter().find(|a| a.primary);
    Ok(UpstreamIdentity {
        subject: user.id.to_string(),
        email_verified: primary.as_ref().is_some_and(|a| a.verified),
        email: primary.map(|a| a.email),
    })
}

async fn read<T: serde::de::DeserializeOwned>(
    provider: &UpstreamProvider,
    answer: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, ProviderFailure> {
    let answer = answer.map_err(|e| super::unreachable(provider, &e))?;
    if !answer.status().is_success() {
        return Err(super::rejected(
            provider,
            &format!("the API answered {}", answer.status()),
        ));
    }
    answer.json().await.map_err(|e| super::rejected(provider, &e))
}

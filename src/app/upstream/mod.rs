//! Signing in with an account elsewhere (design §9): upstream OpenID
//! Connect providers (Google, Microsoft, GitLab, Keycloak, another
//! Klucznik) and GitHub. The core keeps the flows, the links between
//! upstream identities and accounts, and every rule (no silent takeover,
//! the second factor still asked, never unlinking the last way in); the
//! talking to providers is behind the `IdentityProviders` port.

mod flows;

pub use flows::{NO_PASSWORD, StartedUpstream, UpstreamCallback, UpstreamOutcome};

use crate::app::ports::IdentityProviders;
use std::sync::Arc;

/// The providers and the network that reaches them, as the core holds them.
#[derive(Clone)]
pub struct Upstream {
    pub providers: Vec<UpstreamProvider>,
    pub network: Arc<dyn IdentityProviders>,
}

use crate::domain::AccountId;
use time::OffsetDateTime;

/// What kind of provider, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamKind {
    /// Any OpenID Connect provider, found by discovery at its issuer.
    Oidc { issuer: url::Url },
    /// GitHub's OAuth 2 and its user and email API: github.com, or a
    /// GitHub Enterprise Server at `web` (its API under `/api/v3`).
    GitHub { web: url::Url, api: url::Url },
}

/// One `[[upstream]]` of the configuration.
#[derive(Debug, Clone)]
pub struct UpstreamProvider {
    /// The `{name}` of its URLs.
    pub name: String,
    /// The button's text.
    pub label: String,
    pub kind: UpstreamKind,
    pub client_id: String,
    /// Read from `client_secret_file`; `None` for a public client (PKCE).
    pub client_secret: Option<crate::secret::Secret>,
    pub scopes: Vec<String>,
    /// `PUBLIC_URL/login/upstream/{name}/callback`, set at start.
    pub redirect_uri: String,
}

/// What one sign-in at a provider proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// The provider's stable id of the person (`sub`, GitHub's user id).
    pub subject: String,
    pub email: Option<String>,
    /// Only `true` when the provider says it checked the address.
    pub email_verified: bool,
}

/// An identity linked to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub provider: String,
    pub subject: String,
    pub account_id: AccountId,
    pub email: Option<String>,
    pub linked_at: OffsetDateTime,
    pub last_signed_in: Option<OffsetDateTime>,
}

/// A trip to a provider not back yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamFlow {
    pub state_digest: String,
    pub provider: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The account that asked to link a new identity; `None` to sign in.
    pub link_account: Option<AccountId>,
    pub expires_at: OffsetDateTime,
}

/// An identity waiting for the owner of the account its email names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLink {
    pub digest: String,
    pub provider: String,
    pub subject: String,
    pub email: String,
    pub account_id: AccountId,
    pub expires_at: OffsetDateTime,
}

/// What the adapter sends to and brings back from a provider.
#[derive(Debug, Clone)]
pub struct FlowSecrets {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Why a provider's answer was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderFailure {
    /// Down, slow (timed out) or answering nonsense: nothing was changed.
    #[error("{0} could not be reached; try again later")]
    Unreachable(String),
    /// Its answer did not verify (signature, key, audience, nonce, issuer).
    #[error("{0}'s answer was refused: {1}")]
    Rejected(String, String),
}

/// Why an upstream sign-in or link was refused, in words a page shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamProblem {
    #[error("sign-in provider not found")]
    UnknownProvider,
    #[error(transparent)]
    Provider(#[from] ProviderFailure),
    /// The person said no at the provider.
    #[error("the sign-in was cancelled at {0}")]
    Denied(String),
    /// Unknown, used, expired or from another browser: a tampered or
    /// replayed callback.
    #[error("this sign-in is not valid any more; start again")]
    StateInvalid,
    #[error("{0} gave no email address, which a new account needs")]
    NoEmail(String),
    /// The address has an account, and the provider has not verified it.
    #[error("an account with this address exists: sign in to it and link {0} from your account page")]
    EmailTaken(String),
    #[error("this {0} account is already linked to another account")]
    LinkedElsewhere(String),
    /// Unlinking it would leave no way to sign in.
    #[error("this is the only way to sign in to the account; set a password first")]
    LastWayIn,
}

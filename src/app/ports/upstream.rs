//! Upstream sign-in's ports: the links and flows the store keeps, and the
//! providers themselves (talked to over the network by `crate::upstream`).

use super::AuditEvent;
use crate::app::upstream::{
    FlowSecrets, LinkedIdentity, PendingLink, ProviderFailure, UpstreamFlow, UpstreamIdentity,
    UpstreamProvider,
};
use crate::domain::{Account, AccountId};
use crate::store::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// Identities linked to accounts, flows under way and links waiting for
/// their owner.
#[async_trait]
pub trait UpstreamLinks {
    async fn insert_upstream_flow(&self, flow: &UpstreamFlow) -> Result<(), StoreError>;
    /// The flow, removed: a state is good once.
    async fn take_upstream_flow(&self, state_digest: &str) -> Result<Option<UpstreamFlow>, StoreError>;
    async fn linked_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<LinkedIdentity>, StoreError>;
    async fn identities_of(&self, account: &AccountId) -> Result<Vec<LinkedIdentity>, StoreError>;
    /// Links an identity; false when it is linked already (to any account).
    async fn link_identity(
        &self,
        identity: &LinkedIdentity,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    /// A new account and its first identity, in one transaction.
    async fn insert_upstream_account(
        &self,
        account: &Account,
        identity: &LinkedIdentity,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;
    async fn unlink_identity(
        &self,
        account: &AccountId,
        provider: &str,
        subject: &str,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    async fn identity_signed_in(
        &self,
        provider: &str,
        subject: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn insert_pending_link(&self, link: &PendingLink) -> Result<(), StoreError>;
    /// The pending link, removed.
    async fn take_pending_link(&self, digest: &str) -> Result<Option<PendingLink>, StoreError>;
}

/// The providers, over the network.
#[async_trait]
pub trait IdentityProviders: Send + Sync {
    /// Where to send the browser: the provider's authorization endpoint
    /// with state, nonce (OpenID Connect) and the PKCE challenge.
    async fn authorization_url(
        &self,
        provider: &UpstreamProvider,
        flow: &FlowSecrets,
    ) -> Result<url::Url, ProviderFailure>;
    /// Exchanges the code, checks what comes back (the ID token against
    /// the provider's keys, issuer, audience and nonce), and says who it is.
    async fn identity(
        &self,
        provider: &UpstreamProvider,
        code: &str,
        flow: &FlowSecrets,
    ) -> Result<UpstreamIdentity, ProviderFailure>;
}

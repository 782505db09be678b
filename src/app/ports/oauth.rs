//! The OpenID Connect provider's port.

use super::AuditEvent;
use crate::app::oidc::{AuthCode, Consent, DeviceCode, Grant, OAuthClient, PendingLogout};
use crate::domain::{AccountId, Session, SessionId};
use crate::store::StoreError;
use async_trait::async_trait;
use time::OffsetDateTime;

/// The OpenID Connect provider's clients, codes, grants, consents and
/// device codes.
#[async_trait]
pub trait OAuth {
    async fn insert_client(&self, client: &OAuthClient, audit: &[AuditEvent]) -> Result<(), StoreError>;
    async fn client_by_id(&self, id: &str) -> Result<Option<OAuthClient>, StoreError>;
    async fn clients(&self) -> Result<Vec<OAuthClient>, StoreError>;
    /// Writes every column of a client; false when there is none.
    async fn update_client(&self, client: &OAuthClient, audit: &[AuditEvent]) -> Result<bool, StoreError>;
    /// Deletes a client with its consents and codes, and ends its sessions.
    async fn delete_client(
        &self,
        id: &str,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    async fn insert_code(&self, code: &AuthCode) -> Result<(), StoreError>;
    /// The code as it was; `used_at` is `None` when this call used it.
    async fn use_code(&self, digest: &str, now: OffsetDateTime) -> Result<Option<AuthCode>, StoreError>;
    /// Stores a client's session, its first refresh token (if any) and its
    /// grant in one transaction, naming the session on the code that
    /// opened it.
    async fn insert_grant_session(
        &self,
        session: &Session,
        refresh_digest: Option<&str>,
        grant: &Grant,
        code_digest: Option<&str>,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;
    async fn grant(&self, session_id: &SessionId) -> Result<Option<Grant>, StoreError>;
    /// The scope the account consented to for the client.
    async fn consent(&self, account_id: &AccountId, client_id: &str) -> Result<Option<String>, StoreError>;
    async fn put_consent(
        &self,
        account_id: &AccountId,
        client_id: &str,
        scope: &str,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<(), StoreError>;
    async fn consents_of(&self, account_id: &AccountId) -> Result<Vec<Consent>, StoreError>;
    /// Forgets a consent and ends the client's sessions of the account.
    async fn revoke_consent(
        &self,
        account_id: &AccountId,
        client_id: &str,
        now: OffsetDateTime,
        audit: &[AuditEvent],
    ) -> Result<bool, StoreError>;
    async fn insert_device_code(&self, code: &DeviceCode) -> Result<(), StoreError>;
    async fn device_code(&self, digest: &str) -> Result<Option<DeviceCode>, StoreError>;
    async fn device_code_by_user_code(&self, user_code: &str) -> Result<Option<DeviceCode>, StoreError>;
    /// Records the person's answer; false when the code was not pending.
    async fn decide_device_code(&self, user_code: &str, decided: &DeviceCode) -> Result<bool, StoreError>;
    async fn device_polled(
        &self,
        digest: &str,
        now: OffsetDateTime,
        interval: Option<i64>,
    ) -> Result<(), StoreError>;
    /// Marks an approved code used; false when another poll did first.
    async fn use_device_code(&self, digest: &str) -> Result<bool, StoreError>;
    /// Ended sessions whose client is owed a back-channel logout.
    async fn pending_logouts(
        &self,
        now: OffsetDateTime,
        limit: i64,
    ) -> Result<Vec<PendingLogout>, StoreError>;
    /// Takes a pending logout until `retry_at`; false when another instance has it.
    async fn claim_logout(
        &self,
        session_id: &SessionId,
        now: OffsetDateTime,
        retry_at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    async fn logout_done(&self, session_id: &SessionId) -> Result<(), StoreError>;
}

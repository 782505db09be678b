//! The audit trail: who did what to which account, when, from where. Each
//! event is written by the store in the same transaction as the change it
//! records (events without a change of their own — a failed sign-in, a
//! limit tripped — on their own). Details never hold secrets: no
//! passwords, tokens, codes, nor login names that matched no account (a
//! password typed into the name field would end up here).
//!
//! Where a request came from (API, request id, address, user agent) is
//! set once per request by the HTTP edge (`with_origin`) and read here, so
//! core methods do not pass it along.

use super::{Actor, Core, CoreError};
use crate::domain::{Account, AccountId, Invalid};
use crate::store::{AuditEvent, AuditFilter, AuditPage};
use serde_json::Value;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use time::Duration;

/// Where a request came from. Set on every request and read only by
/// the few that record an event: cloning it is a reference count.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// `native`, `web`, a dialect's name, or `cli`.
    pub api: Option<&'static str>,
    pub request_id: Option<Arc<str>>,
    pub address: Option<IpAddr>,
    pub user_agent: Option<Arc<str>>,
}

tokio::task_local! {
    static ORIGIN: Origin;
}

/// Runs `work` with `origin` as where its events came from.
pub async fn with_origin<F: Future>(origin: Origin, work: F) -> F::Output {
    ORIGIN.scope(origin, work).await
}

/// The origin of the work running now (empty outside `with_origin`).
pub fn current_origin() -> Origin {
    ORIGIN.try_with(Clone::clone).unwrap_or_default()
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    SignUp,
    SignIn,
    SignInFailed,
    Lockout,
    RateLimited,
    SignOut,
    SessionRevoked,
    SessionsRevoked,
    RefreshReuseDetected,
    EmailVerified,
    EmailChanged,
    PasswordChanged,
    PasswordReset,
    RoleGranted,
    RoleRevoked,
    AccountDisabled,
    AccountEnabled,
    MemberCreated,
    MemberChanged,
    MemberDeleted,
    KeyRotated,
    KeyRetired,
    SecondFactorEnabled,
    SecondFactorDisabled,
    RecoveryCodeUsed,
    RecoveryCodesRenewed,
    ClientCreated,
    ClientChanged,
    ClientDeleted,
    ConsentGiven,
    ConsentRevoked,
    TokenIssued,
    UpstreamLinked,
    UpstreamUnlinked,
    UpstreamSignIn,
}

impl AuditKind {
    pub const ALL: [AuditKind; 35] = [
        Self::SignUp,
        Self::SignIn,
        Self::SignInFailed,
        Self::Lockout,
        Self::RateLimited,
        Self::SignOut,
        Self::SessionRevoked,
        Self::SessionsRevoked,
        Self::RefreshReuseDetected,
        Self::EmailVerified,
        Self::EmailChanged,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::RoleGranted,
        Self::RoleRevoked,
        Self::AccountDisabled,
        Self::AccountEnabled,
        Self::MemberCreated,
        Self::MemberChanged,
        Self::MemberDeleted,
        Self::KeyRotated,
        Self::KeyRetired,
        Self::SecondFactorEnabled,
        Self::SecondFactorDisabled,
        Self::RecoveryCodeUsed,
        Self::RecoveryCodesRenewed,
        Self::ClientCreated,
        Self::ClientChanged,
        Self::ClientDeleted,
        Self::ConsentGiven,
        Self::ConsentRevoked,
        Self::TokenIssued,
        Self::UpstreamLinked,
        Self::UpstreamUnlinked,
        Self::UpstreamSignIn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignUp => "sign_up",
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::Lockout => "lockout",
            Self::RateLimited => "rate_limited",
            Self::SignOut => "sign_out",
            Self::SessionRevoked => "session_revoked",
            Self::SessionsRevoked => "sessions_revoked",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::EmailVerified => "email_verified",
            Self::EmailChanged => "email_changed",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::RoleGranted => "role_granted",
            Self::RoleRevoked => "role_revoked",
            Self::AccountDisabled => "account_disabled",
            Self::AccountEnabled => "account_enabled",
            Self::MemberCreated => "member_created",
            Self::MemberChanged => "member_changed",
            Self::MemberDeleted => "member_deleted",
            Self::KeyRotated => "key_rotated",
            Self::KeyRetired => "key_retired",
            Self::SecondFactorEnabled => "second_factor_enabled",
            Self::SecondFactorDisabled => "second_factor_disabled",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::RecoveryCodesRenewed => "recovery_codes_renewed",
            Self::ClientCreated => "client_created",
            Self::ClientChanged => "client_changed",
            Self::ClientDeleted => "client_deleted",
            Self::ConsentGiven => "consent_given",
            Self::ConsentRevoked => "consent_revoked",
            Self::TokenIssued => "token_issued",
            Self::UpstreamLinked => "upstream_linked",
            Self::UpstreamUnlinked => "upstream_unlinked",
            Self::UpstreamSignIn => "upstream_sign_in",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

/// `a,b,c` as known event types (the filter of the audit trail).
pub fn parse_kinds(raw: Option<&str>) -> Result<Vec<String>, Invalid> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|kind| !kind.is_empty())
        .map(|kind| {
            AuditKind::parse(kind)
                .map(|kind| kind.as_str().to_owned())
                .ok_or(Invalid::Field {
                    field: "type",
                    reason: "is not a known event type",
                })
        })
        .collect()
}

/// Events shown to a user as their own activity.
const ACTIVITY: &[AuditKind] = &[
    AuditKind::SignIn,
    AuditKind::SignInFailed,
    AuditKind::Lockout,
    AuditKind::SignOut,
    AuditKind::SessionRevoked,
    AuditKind::SessionsRevoked,
    AuditKind::RefreshReuseDetected,
    AuditKind::EmailVerified,
    AuditKind::EmailChanged,
    AuditKind::PasswordChanged,
    AuditKind::PasswordReset,
    AuditKind::RoleGranted,
    AuditKind::RoleRevoked,
    AuditKind::AccountDisabled,
    AuditKind::AccountEnabled,
    AuditKind::SecondFactorEnabled,
    AuditKind::SecondFactorDisabled,
    AuditKind::RecoveryCodeUsed,
    AuditKind::RecoveryCodesRenewed,
    AuditKind::ConsentGiven,
    AuditKind::ConsentRevoked,
    AuditKind::UpstreamLinked,
    AuditKind::UpstreamUnlinked,
    AuditKind::UpstreamSignIn,
];

/// The most events one page holds.
pub const AUDIT_PAGE_LIMIT: u64 = 200;

/// Who acted, as an event stores it: an account's id, or `operator`.
pub fn actor_id(actor: Actor<'_>) -> Option<String> {
    match actor {
        Actor::Operator => Some("operator".into()),
        Actor::Account(account) => Some(account.id.to_string()),
        Actor::Visitor => None,
    }
}

impl Core {
    /// An event about `account` (when there is one) done by `actor`
    /// (`None`: the account itself, or nobody signed in).
    pub(super) fn audit_event(
        &self,
        kind: AuditKind,
        account: Option<&AccountId>,
        actor: Option<String>,
        detail: Value,
    ) -> AuditEvent {
        let origin = current_origin();
        AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            at: self.now(),
            kind: kind.as_str().to_owned(),
            account_id: account.map(ToString::to_string),
            actor_id: actor.or_else(|| account.map(ToString::to_string)),
            address: origin.address.map(|a| a.to_canonical().to_string()),
            user_agent: origin.user_agent.map(|ua| ua.chars().take(512).collect()),
            api: origin.api.map(str::to_owned),
            request_id: origin.request_id.as_deref().map(str::to_owned),
            detail,
        }
    }

    /// Records events that change nothing else (a refused sign-in, a limit
    /// tripped). A failure to record is logged, never the request's failure.
    pub(super) async fn record(&self, events: &[AuditEvent]) {
        if let Err(error) = self.store.record_audit(events).await {
            tracing::warn!(%error, "audit events not recorded");
        }
    }

    /// The audit trail for admins, newest first.
    pub async fn audit_log(
        &self,
        actor: Actor<'_>,
        filter: &AuditFilter,
        offset: u64,
        limit: u64,
    ) -> Result<AuditPage, CoreError> {
        Self::ensure_admin(actor)?;
        Ok(self
            .store
            .audit_events(filter, offset, limit.clamp(1, AUDIT_PAGE_LIMIT))
            .await?)
    }

    /// A user's own recent sign-ins and changes (the last 90 days).
    pub async fn activity_of(&self, account: &Account, limit: u64) -> Result<Vec<AuditEvent>, CoreError> {
        let filter = AuditFilter {
            account: Some(account.id.to_string()),
            kinds: ACTIVITY.iter().map(|kind| kind.as_str().to_owned()).collect(),
            since: Some(self.now() - Duration::days(90)),
            until: None,
        };
        Ok(self
            .store
            .audit_events(&filter, 0, limit.clamp(1, AUDIT_PAGE_LIMIT))
            .await?
            .events)
    }
}

//! What the store reads and writes besides the domain's own types: tokens,
//! keys, verifications, mail, counters and pages, as stored.

use crate::domain::{Account, AccountId, Member, Role, SessionId};
use time::OffsetDateTime;

/// A refresh token as stored: its digest and, once used, the sealed
/// successor that a retry within the grace window receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub session_id: SessionId,
    pub used_at: Option<OffsetDateTime>,
    pub sealed_successor: Option<String>,
}

/// Result of trying to mark a refresh token used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// This call used the token of this session; the successor is stored.
    Rotated(SessionId),
    /// Someone used it first.
    AlreadyUsed(RefreshTokenRecord),
    Unknown,
}

/// A JWT signing key as stored; `Debug` leaves out the private half.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    /// PKCS#8 for EdDSA, the shared secret for HS256.
    pub private_key: Vec<u8>,
    /// The raw public key for EdDSA; empty for HS256.
    pub public_key: Vec<u8>,
    /// 1, 2, … per algorithm, unique: of two instances creating the same
    /// generation at once, one fails (and uses the other's key).
    pub generation: i64,
    pub created_at: OffsetDateTime,
    /// When it starts signing: a rotated key is published first, so that
    /// every instance (and every JWKS cache) knows it before it signs.
    pub signs_from: OffsetDateTime,
    /// When it stopped signing; its tokens verify until they expire.
    pub retired_at: Option<OffsetDateTime>,
}

/// An attempt to sign in, as the lockout counted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginReservation {
    /// Go ahead; `failures` counts this attempt (a success clears it).
    Granted { failures: u32 },
    /// The name's sign-ins are paused until then.
    Paused { until: OffsetDateTime },
    /// As many attempts as the lockout allows are being checked right now.
    Busy,
}

/// One change to an account, written to its own columns only, so that a
/// concurrent change of the others (an admin's disable, a revoked role, a
/// newer password) is never undone by a copy read before it (design §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChange {
    /// A new password hash; with `replacing`, only while the stored hash is
    /// still that one (a re-hash at sign-in never undoes a password change
    /// made meanwhile).
    Password {
        hash: String,
        replacing: Option<String>,
    },
    /// A username the user chose.
    Username(String),
    Disabled(bool),
    /// The roles, only while they are still `from` (else false: read and
    /// try again), so two admins' changes never undo each other.
    Roles {
        from: Vec<Role>,
        to: Vec<Role>,
    },
    /// The address is proven at `at`: a new one (an email change) or the
    /// one it has; with `keep_earlier`, an earlier proof's time is kept.
    EmailVerified {
        new_email: Option<String>,
        at: OffsetDateTime,
        keep_earlier: bool,
    },
}

/// What an email verification is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationPurpose {
    /// Proving the address an account signed up with.
    Signup,
    /// Proving a new address before it replaces the old one.
    EmailChange,
    /// Signing in with a mailed code instead of a password.
    SignIn,
}

impl VerificationPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signup => "signup",
            Self::EmailChange => "email_change",
            Self::SignIn => "sign_in",
        }
    }

    pub fn parse(raw: &str) -> Self {
        if raw == "email_change" {
            Self::EmailChange
        } else if raw == "sign_in" {
            Self::SignIn
        } else {
            Self::Signup
        }
    }
}

/// A verification code and link, as stored (digests only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationRecord {
    /// Also the `sessionId` the code is bound to.
    pub id: String,
    pub account_id: AccountId,
    pub purpose: VerificationPurpose,
    /// The address being verified, as typed.
    pub email: String,
    pub code_digest: String,
    pub link_digest: String,
    pub attempts: u32,
    /// Made by a resend rather than by the sign-up itself.
    pub resent: bool,
    pub created_at: OffsetDateTime,
    pub code_expires_at: OffsetDateTime,
    pub link_expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    pub replaced_at: Option<OffsetDateTime>,
}

/// A password-reset token, as stored (its digest only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordResetRecord {
    pub digest: String,
    pub account_id: AccountId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

/// A rendered message waiting in the outbox; `Debug` leaves out the
/// bodies, which carry codes and links.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"[redacted]")
            .field("generation", &self.generation)
            .field("created_at", &self.created_at)
            .field("signs_from", &self.signs_from)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("id", &self.id)
            .field("recipient", &self.recipient)
            .field("subject", &self.subject)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A message a worker has leased for one delivery attempt.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    pub message: OutboxMessage,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How many rows a prune deleted, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneCounts {
    /// Ended sessions, with their refresh tokens.
    pub sessions: u64,
    /// Used refresh tokens of live sessions.
    pub refresh_tokens: u64,
    /// What OpenID Connect clients were granted, of the sessions pruned.
    pub oauth_grants: u64,
    pub verifications: u64,
    pub password_resets: u64,
    pub login_failures: u64,
    pub rate_limits: u64,
    /// Expired passkey ceremonies, second-factor challenges, OpenID
    /// Connect authorization and device codes, and dynamically registered
    /// clients never used.
    pub ceremonies: u64,
    /// Delivered or abandoned mail.
    pub mail: u64,
    /// Audit events older than the retention.
    pub audit_events: u64,
}

impl PruneCounts {
    pub fn total(&self) -> u64 {
        self.sessions
            + self.refresh_tokens
            + self.oauth_grants
            + self.verifications
            + self.password_resets
            + self.login_failures
            + self.rate_limits
            + self.ceremonies
            + self.audit_events
            + self.mail
    }
}

/// An account's TOTP secret (opened) and its state.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpRecord {
    pub secret: Vec<u8>,
    /// Set once a first code proved the authenticator app has it.
    pub confirmed_at: Option<OffsetDateTime>,
    /// The newest time step a code was accepted for.
    pub last_step: i64,
}

impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord")
            .field("confirmed_at", &self.confirmed_at)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// The step between a right password and a session (its token's digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub digest: String,
    pub account_id: String,
    pub remember_me: bool,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// A passkey as stored: the WebAuthn credential (webauthn-rs's JSON).
#[derive(Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    /// The credential id, base64url.
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub credential: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for PasskeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyRecord")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A WebAuthn ceremony in progress: its challenge's state until answered.
#[derive(Clone, PartialEq, Eq)]
pub struct Ceremony {
    pub id: String,
    pub account_id: Option<String>,
    /// `register`, `second_factor` or `sign_in`.
    pub purpose: String,
    pub state: String,
    pub expires_at: OffsetDateTime,
}

/// What an import does with a row that matches a stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    Skip,
    Update,
    Fail,
}

/// What one batch of an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub imported: u64,
    pub updated: u64,
    pub skipped: u64,
    /// With `OnConflict::Fail`: the row of the batch that matched a stored
    /// one (nothing of the batch was stored).
    pub conflict: Option<usize>,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: String,
    pub at: OffsetDateTime,
    /// `sign_in`, `role_granted`, … (`app::audit::AuditKind`).
    pub kind: String,
    /// The account it is about.
    pub account_id: Option<String>,
    /// Who did it: an account's id, `operator`, or none (nobody signed in).
    pub actor_id: Option<String>,
    pub address: Option<String>,
    pub user_agent: Option<String>,
    /// The API it came through (`native`, `web`, a dialect, `cli`).
    pub api: Option<String>,
    pub request_id: Option<String>,
    pub detail: serde_json::Value,
}

/// Which audit events to list; every field narrows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub account: Option<String>,
    /// Any of these kinds (empty: all).
    pub kinds: Vec<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

/// A page of audit events, newest first, and how many match in all.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    pub total: u64,
}

/// The database connections a pool holds: open, of them idle, at most.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUse {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// How many outbox messages are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: u64,
    /// Of the pending ones, those whose delivery failed at least once.
    pub retrying: u64,
    pub sent: u64,
    pub failed: u64,
    /// When the oldest message still waiting was queued.
    pub oldest_pending: Option<OffsetDateTime>,
}

pub use crate::domain::MemberChange;

/// One page of members and how many match in all.
#[derive(Debug, Clone)]
pub struct MemberPage {
    pub members: Vec<Member>,
    pub total: u64,
}

/// One page of accounts and how many match in all.
#[derive(Debug, Clone)]
pub struct AccountPage {
    pub accounts: Vec<Account>,
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::{OutboxMessage, SigningKeyRecord};
    use time::OffsetDateTime;

    #[test]
    fn key_records_and_mail_print_no_secret() {
        let key = SigningKeyRecord {
            kid: "k".into(),
            algorithm: "EdDSA".into(),
            private_key: b"PRIVATE-BYTES".to_vec(),
            public_key: Vec::new(),
            generation: 1,
            created_at: OffsetDateTime::UNIX_EPOCH,
            signs_from: OffsetDateTime::UNIX_EPOCH,
            retired_at: None,
        };
        assert!(!format!("{key:?}").contains("80, 82, 73"), "{key:?}");
        let mail = OutboxMessage {
            id: "m".into(),
            recipient: "a@b.pl".into(),
            subject: "Code".into(),
            text_body: "your code: S3CR3T01".into(),
            html_body: "<p>S3CR3T01</p>".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(!format!("{mail:?}").contains("S3CR3T01"), "{mail:?}");
    }
}

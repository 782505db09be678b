//! The core's vocabulary: settings, what a sign-up asks for, who is asking,
//! how a sign-in goes, and what it gives back.

use super::IssuedVerification;
use crate::domain::{Account, RateLimits, Role, Session};
use std::net::IpAddr;
use time::Duration;

/// Lifetimes and limits of the core, from configuration.
#[derive(Debug, Clone)]
pub struct CoreSettings {
    pub access_ttl: Duration,
    /// A normal session ends after this long unused…
    pub session_idle: Duration,
    /// …and after this long in any case.
    pub session_absolute: Duration,
    /// A remember-me session lasts this long, used or not.
    pub remember_me_ttl: Duration,
    /// How long after a rotation the old refresh token still gets its successor.
    pub refresh_grace: Duration,
    /// Lifetime, from sign-in, of a refresh token that is never rotated
    /// (jwt-roles, whose frontends keep the first one).
    pub fixed_refresh_ttl: Duration,
    /// Consecutive failures of one login name from one client address
    /// before that address's sign-ins to it pause.
    pub lockout_threshold: u32,
    /// Consecutive failures of one login name from anywhere before all its
    /// sign-ins pause (NIST SP 800-63B: at most 100).
    pub account_lockout_threshold: u32,
    /// Rows that ended (expired, used, revoked, delivered) are deleted
    /// this long after (`--prune-after`).
    pub prune_after: Duration,
    /// Signing in by a mailed code, without a password (`--email-sign-in`).
    pub email_sign_in: bool,
    /// Only admins make accounts (`--sign-up closed`).
    pub sign_up_closed: bool,
    /// RFC 7591 registration of clients by anyone (`--oidc-dynamic-registration`).
    pub oidc_dynamic_registration: bool,
    /// Accounts with one of these roles must enrol a second factor before
    /// anything else works (`--require-mfa-for-role`).
    pub second_factor_roles: Vec<crate::domain::Role>,
    /// Audit events are deleted this long after (`--audit-retention`).
    pub audit_retention: Duration,
    /// Rotate the JWT signing key this often (`--key-rotation`); `None`: only
    /// by hand.
    pub key_rotation: Option<Duration>,
    /// Per-client limits (`--rate-limits`); `None` when turned off.
    pub rate_limits: Option<RateLimits>,
    /// An account with an unverified email cannot sign in (native API, web
    /// page, verify-code dialect).
    pub require_verified_email: bool,
}

impl Default for CoreSettings {
    fn default() -> Self {
        Self {
            access_ttl: Duration::minutes(15),
            session_idle: Duration::hours(24),
            session_absolute: Duration::days(7),
            remember_me_ttl: Duration::days(30),
            refresh_grace: Duration::seconds(2),
            fixed_refresh_ttl: Duration::hours(24),
            lockout_threshold: 10,
            account_lockout_threshold: 100,
            prune_after: Duration::days(7),
            key_rotation: None,
            audit_retention: Duration::days(365),
            email_sign_in: false,
            oidc_dynamic_registration: false,
            sign_up_closed: false,
            second_factor_roles: Vec::new(),
            rate_limits: Some(RateLimits::DEFAULT),
            require_verified_email: true,
        }
    }
}

/// What a sign-up asks for, as typed.
#[derive(Clone, Default)]
pub struct NewAccount {
    pub email: Option<String>,
    pub username: Option<String>,
    pub password: crate::secret::Secret,
    pub roles: Vec<Role>,
    /// The operator vouches for the email: no verification mail.
    pub email_verified: bool,
    /// Where the verification link points, when not the core's default.
    pub links: Option<super::links::Links>,
}

/// A new account, and the verification mailed to it when it has an email.
#[derive(Clone)]
pub struct Registered {
    pub account: Account,
    pub verification: Option<IssuedVerification>,
}

/// Where a request came from, kept with its session for the user to see.
#[derive(Debug, Clone, Default)]
pub struct Device {
    pub user_agent: Option<String>,
    /// The client's address (behind a trusted proxy, the one it names);
    /// per-client limits count by it.
    pub address: Option<IpAddr>,
}

/// The outcome of a sign-in or refresh.
#[derive(Clone)]
pub struct SignedIn {
    pub account: Account,
    pub session: Session,
    pub access_token: String,
    pub expires_in: Duration,
    pub refresh_token: String,
    /// The browser-session secret; only a sign-in creates one.
    pub session_secret: Option<String>,
}

/// What a new session's owner proved themselves with: step-up leans on a
/// recent password or second factor, never on a mailed code or link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Password,
    /// A password, then an authenticator app's or a recovery code.
    PasswordAndCode,
    /// A password, then a passkey.
    PasswordAndPasskey,
    /// A passkey alone (it verifies its user).
    Passkey,
    /// A mailed code or link.
    Mailed,
    /// A sign-in at an upstream provider: not a step-up here either.
    Elsewhere,
}

impl Proof {
    /// Whether a step-up may lean on it.
    pub fn is_strong(self) -> bool {
        !matches!(self, Self::Mailed | Self::Elsewhere)
    }

    /// RFC 8176 method references, as ID tokens' `amr` carries them
    /// (`fed`: federated, not in the RFC's registry).
    pub fn amr(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::PasswordAndCode => "pwd otp mfa",
            Self::PasswordAndPasskey => "pwd hwk mfa",
            Self::Passkey => "hwk user",
            Self::Mailed => "otp",
            Self::Elsewhere => "fed",
        }
    }
}

impl SignedIn {
    /// The principal of the session just opened.
    pub fn principal(&self) -> Principal {
        Principal {
            account: self.account.clone(),
            session: self.session.clone(),
            client: None,
        }
    }
}

/// An authenticated request: whose, and through which session.
#[derive(Debug, Clone)]
pub struct Principal {
    pub account: Account,
    pub session: Session,
    /// The address the request came from, when the door knows it: what a
    /// password typed again (step-up, a password change) is counted by.
    pub client: Option<IpAddr>,
}

/// Who performs an action that not everyone may.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// The operator at the command line, with access to the database.
    Operator,
    Account(&'a Account),
    /// Nobody signed in (a self-registration).
    Visitor,
}

/// Whether the API signing someone in has a step where the email is
/// verified first; one without it lets unverified accounts in, as its
/// frontends expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationStep {
    /// `KLUCZNIK_REQUIRE_VERIFIED_EMAIL` decides.
    Present,
    Absent,
}

/// How long a new session lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionLength {
    /// Idle and absolute expiry from configuration.
    #[default]
    Normal,
    /// 30 days, used or not.
    RememberMe,
}

impl SessionLength {
    pub fn remember_me(remember: bool) -> Self {
        if remember { Self::RememberMe } else { Self::Normal }
    }
}

/// A way in (design §7): the native API with the web page (one
/// first-party door: one session cookie, the same rules), or one seed
/// dialect. A session opened at a door, and every token of it, names the
/// door as its audience and opens no other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Native,
    /// A seed dialect, by its `--api` name.
    Dialect(&'static str),
}

impl Door {
    /// The `aud` of its tokens, and what its sessions are bound to.
    pub fn audience(self) -> String {
        match self {
            Door::Native => "klucznik:native".to_owned(),
            Door::Dialect(name) => format!("klucznik:{name}"),
        }
    }
}

/// What an authenticated request is for. An account whose role must
/// enrol a second factor may, until it has one, only enrol it (and read
/// itself, sign out); every other request is refused. Some ask a role too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Anything,
    Enrolment,
    /// The member register: moderators and admins.
    MemberRegister,
    /// Administration: admins.
    Admin,
}

/// How a sign-in goes, named at the call site.
#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    /// Where the sign-in happens: its session opens only this door.
    pub door: Door,
    pub verification_step: VerificationStep,
    pub length: SessionLength,
    /// Whether the API has a second sign-in step (a code after the
    /// password) and a way to enrol one: the native API and the web page.
    pub second_step: bool,
    /// Whether an unknown login name is told apart from a wrong password
    /// (`UnknownLogin`), as some seed documents do; never natively.
    pub tells_unknown_login: bool,
}

impl LoginPolicy {
    /// The native API and the web page: a verification step and a second
    /// sign-in step.
    pub const NATIVE: Self = Self {
        door: Door::Native,
        verification_step: VerificationStep::Present,
        length: SessionLength::Normal,
        second_step: true,
        tells_unknown_login: false,
    };

    /// A seed dialect's: with its verification step (verify-code) or
    /// without (those whose frontends sign in right after sign-up); no
    /// second step, so accounts with a second factor are refused there.
    pub const fn dialect(name: &'static str, verification_step: VerificationStep) -> Self {
        Self {
            door: Door::Dialect(name),
            verification_step,
            length: SessionLength::Normal,
            second_step: false,
            tells_unknown_login: false,
        }
    }

    /// For a document that answers an unknown name apart from a wrong
    /// password (uid-token's 404, jwt-roles' "User Not found.").
    pub const fn telling_unknown_logins(self) -> Self {
        Self {
            tells_unknown_login: true,
            ..self
        }
    }

    pub fn with_length(self, length: SessionLength) -> Self {
        Self { length, ..self }
    }
}

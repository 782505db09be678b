//! Accounts and sessions as the core sees them.

use super::{AccountId, Email, Invalid, SessionId};
use time::{Duration, OffsetDateTime};

/// What an account may do beyond signing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    User,
    Moderator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::User, Role::Moderator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(raw.trim()))
            .ok_or_else(|| Invalid::Role(raw.to_owned()))
    }
}

/// A person's account. `password_hash` is a PHC string and never leaves the
/// core; `Debug` leaves it out.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub email: Option<Email>,
    pub username: Option<String>,
    pub password_hash: String,
    pub email_verified_at: Option<OffsetDateTime>,
    pub roles: Vec<Role>,
    pub custom_username: bool,
    pub disabled: bool,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The id an imported account had where it came from (kept so that
    /// APIs which answered it before answer the same value).
    pub external_id: Option<String>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("roles", &self.roles)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// The id an API shows: the imported one when there is one.
    pub fn public_id(&self) -> &str {
        self.external_id.as_deref().unwrap_or(self.id.as_str())
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Adds a role, keeping the list sorted and free of repeats.
    pub fn grant(&mut self, role: Role) {
        if !self.has_role(role) {
            self.roles.push(role);
            self.roles.sort();
        }
    }

    pub fn revoke(&mut self, role: Role) {
        self.roles.retain(|r| *r != role);
    }
}

/// One sign-in on one device. The secret behind it is never stored, only
/// its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub account_id: AccountId,
    pub remember_me: bool,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
    /// The absolute end, whatever the use.
    pub expires_at: OffsetDateTime,
    /// How long the session may go unused before it ends.
    pub idle_timeout: Duration,
    pub revoked_at: Option<OffsetDateTime>,
    /// When it was opened by a password or a second factor (not by a
    /// mailed code or link): what a step-up within minutes may lean on.
    pub strong_auth_at: Option<OffsetDateTime>,
    /// The audience of the door it was opened at (`klucznik:native`,
    /// `klucznik:jwt-roles`, …): it opens no other.
    pub door: String,
    /// How it was opened, as RFC 8176 method references ("pwd otp mfa");
    /// empty for sessions made before this was recorded.
    pub amr: String,
}

impl Session {
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at && now < self.last_used_at + self.idle_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_case_insensitively() {
        assert_eq!(Role::parse("Admin"), Ok(Role::Admin));
        assert_eq!(Role::parse("root"), Err(Invalid::Role("root".into())));
    }

    #[test]
    fn session_ends_when_idle_or_old_or_revoked() {
        let start = OffsetDateTime::UNIX_EPOCH;
        let session = Session {
            id: "s".into(),
            account_id: "a".into(),
            remember_me: false,
            user_agent: None,
            ip: None,
            created_at: start,
            last_used_at: start,
            expires_at: start + Duration::days(7),
            idle_timeout: Duration::hours(24),
            revoked_at: None,
            strong_auth_at: None,
            door: "klucznik:native".into(),
            amr: "pwd".into(),
        };
        assert!(session.is_active(start + Duration::hours(23)));
        assert!(!session.is_active(start + Duration::hours(25)));
        let used = Session {
            last_used_at: start + Duration::days(6),
            ..session.clone()
        };
        assert!(used.is_active(start + Duration::days(6) + Duration::hours(12)));
        assert!(!used.is_active(start + Duration::days(7)));
        let revoked = Session {
            revoked_at: Some(start),
            ..session
        };
        assert!(!revoked.is_active(start));
    }
}

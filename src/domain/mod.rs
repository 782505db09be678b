//! Pure types and rules of the core: parsing of what users type, accounts,
//! sessions. No I/O, no HTTP, no SQL, so every rule here is testable alone.

pub mod account;
pub mod email;
pub mod id;
pub mod invalid;
pub mod limits;
pub mod lockout;
pub mod member;
pub mod password;
pub mod username;

pub use account::{Account, Role, Session};
pub use email::Email;
pub use id::{AccountId, MemberId, SessionId};
pub use invalid::Invalid;
pub use limits::{Limited, RateLimit, RateLimits, WindowCount, client_key};
pub use lockout::LockoutRule;
pub use member::{Member, MemberChange, MemberData, MemberFields, MemberInput, MemberJson, whole_number};
pub use password::Password;
pub use username::{Username, UsernameLength};

/// The one form in which emails and usernames are compared, by every path
/// and in both databases: trimmed, in Unicode lower case (SQLite's `lower()`
/// knows only ASCII, so the program computes it).
pub fn case_fold(raw: &str) -> String {
    raw.trim().to_lowercase()
}

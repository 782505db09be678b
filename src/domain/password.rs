//! The password policy of NIST SP 800-63B: 8–128 characters, no composition
//! rules, and no password from a list of commonly used ones.

use super::Invalid;
use std::collections::HashSet;
use std::sync::OnceLock;

/// Longest password accepted at sign-in; anything longer cannot match a
/// stored one and is refused before it costs a hash.
pub const MAX_LEN: usize = 128;
pub const MIN_LEN: usize = 8;

/// Lower-cased common passwords of 8 or more characters (from Django's
/// `common-passwords.txt`, BSD licence), shipped inside the binary.
static COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().collect())
}

/// A password that satisfies the policy. `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let length = raw.chars().count();
        if !(MIN_LEN..=MAX_LEN).contains(&length) {
            return Err(Invalid::PasswordLength);
        }
        if common_passwords().contains(raw.to_lowercase().as_str()) {
            return Err(Invalid::PasswordCommon);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_bounds_count_characters() {
        assert_eq!(Password::parse("short").unwrap_err(), Invalid::PasswordLength);
        assert!(Password::parse("żółw-kot-9").is_ok());
        assert!(Password::parse(&"x9".repeat(64)).is_ok());
        assert_eq!(
            Password::parse(&"x".repeat(129)).unwrap_err(),
            Invalid::PasswordLength
        );
    }

    #[test]
    fn common_passwords_refused_in_any_case() {
        for raw in ["12345678", "password", "PassWord1", "qwertyuiop"] {
            assert_eq!(
                Password::parse(raw).unwrap_err(),
                Invalid::PasswordCommon,
                "{raw}"
            );
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let password = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }
}

//! Usernames: 3–32 ASCII letters, digits or underscores, unique
//! case-insensitively. ASCII only, so two names cannot look alike.

use super::Invalid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

/// How long a username may be: the one rule's alphabet, with bounds that
/// an API whose document sets narrower ones (verify-code: 3–15) passes as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsernameLength {
    pub min: usize,
    pub max: usize,
}

impl UsernameLength {
    /// The core's own bounds; every other is within them.
    pub const DEFAULT: Self = Self { min: 3, max: 32 };
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::parse_with_length(raw, UsernameLength::DEFAULT)
    }

    /// For APIs whose document sets narrower bounds (within the default).
    pub fn parse_with_length(raw: &str, length: UsernameLength) -> Result<Self, Invalid> {
        let min = length.min.max(UsernameLength::DEFAULT.min);
        let max = length.max.min(UsernameLength::DEFAULT.max);
        let valid_chars = raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_chars || raw.len() < min || raw.len() > max {
            return Err(Invalid::Username);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_alphabet() {
        assert!(Username::parse("ala").is_ok());
        assert!(Username::parse("Ala_Kot_123").is_ok());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
        for raw in ["", "al", "ala kot", "ała", "ala-kot", &"a".repeat(33)] {
            assert_eq!(Username::parse(raw), Err(Invalid::Username), "{raw}");
        }
    }
}

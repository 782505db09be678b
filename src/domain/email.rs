//! Email addresses as accounts use them: trimmed, syntax-checked, and
//! compared case-insensitively.

use super::Invalid;
use email_address::{EmailAddress, Options};

/// A syntactically valid email address, as the user typed it but trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl std::ops::Deref for Email {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for Email {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.len() > 254 {
            return Err(Invalid::Email);
        }
        let options = Options::default()
            .with_required_tld()
            .without_display_text()
            .without_domain_literal();
        EmailAddress::parse_with_options(trimmed, options).map_err(|_| Invalid::Email)?;
        Ok(Self(trimmed.to_owned()))
    }

    /// An address read back from the database, where only parsed ones
    /// are written.
    pub fn stored(address: String) -> Self {
        Self(address)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `other`, as typed, is this address (any case).
    pub fn is(&self, other: &str) -> bool {
        same_address(&self.0, other)
    }

    /// The form uniqueness is decided on.
    pub fn normalized(&self) -> String {
        normalize(&self.0)
    }
}

/// The form addresses are compared in (`Zoë.Łukasz@Example.com` and
/// `zoë.łukasz@example.com` are one address).
pub fn normalize(raw: &str) -> String {
    super::case_fold(raw)
}

/// Whether two addresses, as typed, are the same.
pub fn same_address(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_keeps_case() {
        let email = Email::parse("  Ala@Example.PL ").unwrap();
        assert_eq!(email.as_str(), "Ala@Example.PL");
        assert_eq!(email.normalized(), "ala@example.pl");
        assert!(same_address(" Zoë.Łukasz@Example.com", "ZOË.ŁUKASZ@example.COM"));
    }

    #[test]
    fn refuses_malformed() {
        for raw in [
            "",
            "ala",
            "ala@",
            "@x.pl",
            "ala@localhost",
            "Ala <a@b.pl>",
            "a b@c.pl",
        ] {
            assert_eq!(Email::parse(raw), Err(Invalid::Email), "{raw}");
        }
    }
}

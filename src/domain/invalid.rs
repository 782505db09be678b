//! Why a piece of user input was refused. Each dialect turns these into its
//! own wording, so the variants carry meaning, not text.

/// A refused input, naming the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("email is not a valid address")]
    Email,
    #[error("username must be 3 to 32 letters, digits or underscores")]
    Username,
    #[error("password must be 8 to 128 characters long")]
    PasswordLength,
    #[error("password is too common; choose another one")]
    PasswordCommon,
    #[error("an email or a username is required")]
    IdentifierMissing,
    #[error("unknown role `{0}`")]
    Role(String),
    /// Any other field whose value is out of range or of the wrong form.
    #[error("{field}: {reason}")]
    Field {
        field: &'static str,
        reason: &'static str,
    },
}

impl Invalid {
    /// The request field the refusal concerns.
    pub fn field(&self) -> &'static str {
        match self {
            Invalid::Email => "email",
            Invalid::Username => "username",
            Invalid::PasswordLength | Invalid::PasswordCommon => "password",
            Invalid::IdentifierMissing => "email",
            Invalid::Role(_) => "role",
            Invalid::Field { field, .. } => field,
        }
    }
}

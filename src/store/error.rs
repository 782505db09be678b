//! What a store call can fail with, and how sqlx's failures of either
//! database are sorted into those: unavailable (503, retry later), a unique
//! rule broken (which field), or anything else.

/// Which unique rule a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    Email,
    Username,
    Other,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unique constraint on {0:?}")]
    Conflict(UniqueField),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Other(String),
    /// A failure of the database driver, kept whole for its cause chain.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

/// Sorts sqlx failures into "the database is not there" (503, retry later)
/// and everything else, and unique violations into typed conflicts.
pub(crate) fn classify(error: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match &error {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::Protocol(_) | E::WorkerCrashed => {
            StoreError::Unavailable(error.to_string())
        }
        E::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(unique_field(db.constraint(), db.message()))
        }
        E::Database(db) if is_unavailable(db.code().as_deref().unwrap_or_default(), db.message()) => {
            StoreError::Unavailable(error.to_string())
        }
        _ => StoreError::Database(error),
    }
}

/// Whether a database error means "not reachable now": PostgreSQL's
/// connection exceptions (08), insufficient resources (53: too many
/// connections), operator intervention (57P: shutting down, cannot connect
/// now), a statement cut off by `statement_timeout` (57014), a database
/// that refuses connections (55000, as in a failover); SQLite busy (5),
/// locked (6), read-only (8), I/O error (10), disk full (13) or unable to
/// open its file (14), with any extended code.
fn is_unavailable(code: &str, message: &str) -> bool {
    if code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") || code == "57014" {
        return true;
    }
    if code == "55000" {
        return message.contains("not currently accepting connections");
    }
    // SQLite's codes are numbers under 5 digits; PostgreSQL's always have 5 characters.
    code.len() < 5
        && code
            .parse::<u32>()
            .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
}

/// The field behind a unique violation: PostgreSQL names the constraint;
/// SQLite names the column in its message (`UNIQUE constraint failed:
/// accounts.email_normalized`).
fn unique_field(constraint: Option<&str>, message: &str) -> UniqueField {
    match constraint {
        Some("accounts_email_key") => UniqueField::Email,
        Some("accounts_username_key") => UniqueField::Username,
        Some(_) => UniqueField::Other,
        None if message.contains("accounts.email_normalized") => UniqueField::Email,
        None if message.contains("accounts.username_normalized") => UniqueField::Username,
        None => UniqueField::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::is_unavailable;

    #[test]
    fn connection_level_failures_are_unavailability() {
        for code in [
            "08006", "08001", "53300", "57P01", "57P03", "57014", "5", "517", "6", "8", "10", "13", "14",
        ] {
            assert!(is_unavailable(code, ""), "{code}");
        }
        assert!(is_unavailable(
            "55000",
            "database \"x\" is not currently accepting connections"
        ));
        for code in ["55000", "23502", "42601", "22P02", "40001", "19", "1"] {
            assert!(!is_unavailable(code, "something else"), "{code}");
        }
    }
}

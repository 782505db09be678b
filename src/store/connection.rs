//! How the pools judge a connection: whether it may be handed out, whether
//! an error broke it, and whether it needs TLS at all.

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use std::time::Duration;

/// Whether a pooled connection may be used: one still inside a
/// transaction (a COMMIT that failed on an I/O error leaves it so) is
/// closed instead, and the pool opens a fresh one; with one SQLite writer,
/// keeping it would refuse every write from then on.
fn not_stuck(connection: &impl sqlx::Connection) -> bool {
    !connection.is_in_transaction()
}

/// A pooled connection idle this long is pinged before use (one that
/// served a moment ago is not: sqlx's ping on every acquire cost a round
/// trip per query), so one the server dropped while it sat unused, as in
/// a restart or failover, is replaced before a request meets it.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// `before_acquire` of every pool: `not_stuck`, and alive if it was idle
/// past `PING_AFTER_IDLE`.
pub(super) async fn usable<C: sqlx::Connection>(
    connection: &mut C,
    meta: sqlx::pool::PoolConnectionMetadata,
) -> Result<bool, sqlx::Error> {
    if !not_stuck(connection) {
        return Ok(false);
    }
    if meta.idle_for >= PING_AFTER_IDLE {
        connection.ping().await?;
    }
    Ok(true)
}

/// Whether an error leaves a PostgreSQL connection unusable: a broken
/// socket or stream, or the server ending the session (08: connection
/// exception; 57P: shut down by an operator or a crash). A statement cut
/// off by its timeout (57014) leaves the connection fine.
pub(crate) fn breaks_connection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// Turns TLS off for a database on this machine unless the URL or
/// PGSSLMODE names a mode: loopback traffic never leaves the machine, so
/// TLS protects nothing there, and sqlx's default (`prefer`) cost about a
/// tenth of the database's CPU per query.
pub(super) fn without_needless_tls(options: PgConnectOptions, url: &str) -> PgConnectOptions {
    let mode_chosen = names_tls_mode(url) || std::env::var_os("PGSSLMODE").is_some();
    if !mode_chosen && is_on_this_machine(options.get_host()) {
        options.ssl_mode(PgSslMode::Disable)
    } else {
        options
    }
}

/// Whether the URL's query names `sslmode` (or sqlx's `ssl-mode`).
fn names_tls_mode(url: &str) -> bool {
    let query = url.split_once('?').map(|(_, query)| query).unwrap_or_default();
    query.split('&').any(|pair| {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        key.eq_ignore_ascii_case("sslmode") || key.eq_ignore_ascii_case("ssl-mode")
    })
}

/// A loopback address, `localhost` or a Unix socket's directory.
fn is_on_this_machine(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.starts_with('/')
        || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn a_url_naming_a_tls_mode_keeps_it() {
        assert!(names_tls_mode("postgres://u@db/x?sslmode=require"));
        assert!(names_tls_mode(
            "postgres://u@db/x?application_name=a&SSLMODE=verify-full"
        ));
        assert!(names_tls_mode("postgres://u@db/x?ssl-mode=disable"));
        assert!(!names_tls_mode("postgres://u@db/x"));
        assert!(!names_tls_mode("postgres://u@db/x?application_name=sslmode"));
    }

    #[test]
    fn only_loopback_localhost_and_sockets_are_on_this_machine() {
        for host in [
            "127.0.0.1",
            "127.8.9.10",
            "::1",
            "[::1]",
            "localhost",
            "LocalHost",
            "/run/postgresql",
        ] {
            assert!(is_on_this_machine(host), "{host}");
        }
        for host in [
            "10.0.0.7",
            "db.internal",
            "2001:db8::1",
            "localhost.example.com",
            "",
        ] {
            assert!(!is_on_this_machine(host), "{host}");
        }
    }

    #[test]
    fn tls_is_off_only_for_a_local_database_that_asked_for_nothing() {
        // PGSSLMODE is not set in the test environment; if it were, every
        // case would keep sqlx's choice, which the last assertions allow.
        let mode = |url: &str| {
            let options = PgConnectOptions::from_str(url).map_err(|error| error.to_string());
            options.map(|options| format!("{:?}", without_needless_tls(options, url).get_ssl_mode()))
        };
        if std::env::var_os("PGSSLMODE").is_none() {
            assert_eq!(
                mode("postgres://postgres@127.0.0.1:5432/test"),
                Ok("Disable".into())
            );
        }
        assert_eq!(
            mode("postgres://postgres@127.0.0.1/test?sslmode=require"),
            Ok("Require".into())
        );
        assert_eq!(mode("postgres://postgres@db.internal/test"), Ok("Prefer".into()));
    }

    #[test]
    fn a_lost_connection_breaks_it_and_a_timeout_does_not() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(breaks_connection(&io));
        assert!(breaks_connection(&sqlx::Error::Protocol(
            "unexpected message".into()
        )));
        assert!(!breaks_connection(&sqlx::Error::RowNotFound));
        assert!(!breaks_connection(&sqlx::Error::PoolTimedOut));
    }
}

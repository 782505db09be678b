//! Per-client limits on the actions an attacker repeats (guessing
//! passwords across accounts, creating accounts, guessing codes, mailing
//! people): how many of each one client address may do in a window. Rules
//! as data; the store counts them in the database so every instance shares
//! the count.

use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

/// An action limited per client address (or per account, for recovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// Failed sign-ins from one address, across every account.
    SignInFailures,
    /// Accounts created from one address.
    SignUp,
    /// Verification codes, verification links and reset tokens tried from
    /// one address.
    TokenGuesses,
    /// Verification mails asked for from one address.
    Resend,
    /// Password-reset mails asked for from one address.
    Recovery,
    /// Password-reset mails sent to one account, whoever asks.
    RecoveryPerAccount,
    /// Changes of email asked for by one account (each mails a code to
    /// the new address and a notice to the old one).
    EmailChange,
    /// Ceremonies an anonymous caller makes the server store (a passkey
    /// sign-in's challenge), from one address.
    Ceremonies,
}

impl Limited {
    pub const ALL: [Self; 8] = [
        Self::SignInFailures,
        Self::SignUp,
        Self::TokenGuesses,
        Self::Resend,
        Self::Recovery,
        Self::RecoveryPerAccount,
        Self::EmailChange,
        Self::Ceremonies,
    ];

    /// The action a counter's name names.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.name() == name)
    }

    /// The counter's name in the store.
    pub fn name(self) -> &'static str {
        match self {
            Self::SignInFailures => "signin",
            Self::SignUp => "signup",
            Self::TokenGuesses => "guess",
            Self::Resend => "resend",
            Self::Recovery => "recovery",
            Self::RecoveryPerAccount => "recovery-account",
            Self::EmailChange => "email-change",
            Self::Ceremonies => "ceremony",
        }
    }
}

/// At most `limit` in any `window`, as a sliding window: the hits of the
/// current fixed window plus the previous window's, weighted by how much
/// of it still lies within the last `window` (no burst of twice the limit
/// at a window's edge, two counters per client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
}

/// The counters of one client and action, as the store returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    /// Hits in the current window, the latest included.
    pub hits: u32,
    /// Hits in the window before it.
    pub previous: u32,
}

impl RateLimit {
    /// Where the fixed window holding `now` starts: windows are aligned
    /// to the epoch, so every instance agrees on them.
    pub fn window_start(&self, now: OffsetDateTime) -> OffsetDateTime {
        let window = self.window.whole_milliseconds().max(1);
        let at = (now - OffsetDateTime::UNIX_EPOCH).whole_milliseconds();
        let start = at - at.rem_euclid(window);
        OffsetDateTime::UNIX_EPOCH + Duration::milliseconds(i64::try_from(start).unwrap_or(i64::MAX))
    }

    /// `Ok` while the sliding count is within the limit; else how long,
    /// with no further hits, until it is again.
    pub fn judge(&self, now: OffsetDateTime, count: WindowCount) -> Result<(), Duration> {
        let window = self.window.as_seconds_f64().max(0.001);
        let start = self.window_start(now);
        let elapsed = (now - start).as_seconds_f64() / window;
        let limit = f64::from(self.limit);
        let (hits, previous) = (f64::from(count.hits), f64::from(count.previous));
        if previous * (1.0 - elapsed) + hits <= limit {
            return Ok(());
        }
        let wait = if hits <= limit {
            // Within this window, once enough of the previous one slid out.
            let at = 1.0 - (limit - hits) / previous;
            (at - elapsed) * window
        } else {
            // In the next window, once enough of this one slid out.
            (1.0 - elapsed) * window + (1.0 - limit / hits) * window
        };
        Err(Duration::seconds_f64(wait.max(0.0)))
    }
}

/// Every per-client limit; generous enough for an office behind one
/// address, tight enough that one address cannot sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub sign_in_failures: RateLimit,
    pub sign_up: RateLimit,
    pub token_guesses: RateLimit,
    pub resend: RateLimit,
    pub recovery: RateLimit,
    pub recovery_per_account: RateLimit,
    pub email_change: RateLimit,
    pub ceremonies: RateLimit,
}

impl RateLimits {
    /// The design asks that an address may fail at least 100 sign-ins a
    /// minute across accounts before it is held back.
    pub const DEFAULT: Self = Self {
        sign_in_failures: RateLimit {
            limit: 150,
            window: Duration::minutes(1),
        },
        sign_up: RateLimit {
            limit: 50,
            window: Duration::minutes(10),
        },
        token_guesses: RateLimit {
            limit: 100,
            window: Duration::minutes(10),
        },
        resend: RateLimit {
            limit: 30,
            window: Duration::minutes(10),
        },
        recovery: RateLimit {
            limit: 30,
            window: Duration::minutes(10),
        },
        recovery_per_account: RateLimit {
            limit: 5,
            window: Duration::hours(1),
        },
        email_change: RateLimit {
            limit: 5,
            window: Duration::hours(1),
        },
        ceremonies: RateLimit {
            limit: 100,
            window: Duration::minutes(10),
        },
    };

    /// The rule of `action`, to change it.
    pub fn of_mut(&mut self, action: Limited) -> &mut RateLimit {
        match action {
            Limited::SignInFailures => &mut self.sign_in_failures,
            Limited::SignUp => &mut self.sign_up,
            Limited::TokenGuesses => &mut self.token_guesses,
            Limited::Resend => &mut self.resend,
            Limited::Recovery => &mut self.recovery,
            Limited::RecoveryPerAccount => &mut self.recovery_per_account,
            Limited::EmailChange => &mut self.email_change,
            Limited::Ceremonies => &mut self.ceremonies,
        }
    }

    pub fn of(&self, action: Limited) -> RateLimit {
        match action {
            Limited::SignInFailures => self.sign_in_failures,
            Limited::SignUp => self.sign_up,
            Limited::TokenGuesses => self.token_guesses,
            Limited::Resend => self.resend,
            Limited::Recovery => self.recovery,
            Limited::RecoveryPerAccount => self.recovery_per_account,
            Limited::EmailChange => self.email_change,
            Limited::Ceremonies => self.ceremonies,
        }
    }
}

/// The part of an address that names one client: the whole IPv4 address,
/// an IPv6 address's /64 (one host is usually given a whole /64, so its
/// single addresses cost an attacker nothing). IPv4 mapped into IPv6 counts
/// as IPv4.
pub fn client_key(address: Option<IpAddr>) -> String {
    match address.map(|a| a.to_canonical()) {
        None => "-".to_owned(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(limit: u32) -> RateLimit {
        RateLimit {
            limit,
            window: Duration::seconds(100),
        }
    }

    #[test]
    fn the_previous_window_counts_by_how_much_of_it_is_still_in_view() {
        let rule = limit(10);
        let start = rule.window_start(OffsetDateTime::UNIX_EPOCH + Duration::seconds(1_000_050));
        assert_eq!(start, OffsetDateTime::UNIX_EPOCH + Duration::seconds(1_000_000));
        let at = |s: i64| start + Duration::seconds(s);
        let count = |hits, previous| WindowCount { hits, previous };
        // A quarter into the window, 3/4 of the previous 8 still count: 6 + 4 = 10.
        assert_eq!(rule.judge(at(25), count(4, 8)), Ok(()));
        // One more is over; it is under again once 1/8 more of the
        // previous window slid out (12.5 s).
        let wait = rule.judge(at(25), count(5, 8)).unwrap_err();
        assert!((wait.as_seconds_f64() - 12.5).abs() < 1e-6, "{wait}");
        // Over within this window alone: wait for the next window and half of it.
        let wait = rule.judge(at(50), count(20, 0)).unwrap_err();
        assert!((wait.as_seconds_f64() - 100.0).abs() < 1e-6, "{wait}");
        // No burst at the edge: 10 at the end of one window, 1 at the start of the next.
        assert!(rule.judge(at(100), count(1, 10)).is_err());
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_bit_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(Some(a)), client_key(Some(b)));
        assert_ne!(client_key(Some(a)), client_key(Some(other)));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(Some(mapped)), "192.0.2.7");
        assert_eq!(client_key(None), "-");
    }
}

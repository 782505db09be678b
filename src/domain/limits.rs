//! Per-client limits on the actions an attacker repeats (guessing
//! passwords across accounts, creating accounts, guessing codes, mailing
//! people): how many of each one client address may do in a window. Rules
//! as data; the store counts them in the database so every instance shares
//! the count.

use std::net::IpAddr;
use time::Duration;

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
}

impl Limited {
    /// The counter's name in the store.
    pub fn name(self) -> &'static str {
        match self {
            Self::SignInFailures => "signin",
            Self::SignUp => "signup",
            Self::TokenGuesses => "guess",
            Self::Resend => "resend",
            Self::Recovery => "recovery",
            Self::RecoveryPerAccount => "recovery-account",
        }
    }
}

/// At most `limit` in any `window` (a fixed window, counted from its first
/// hit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
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
    };

    pub fn of(&self, action: Limited) -> RateLimit {
        match action {
            Limited::SignInFailures => self.sign_in_failures,
            Limited::SignUp => self.sign_up,
            Limited::TokenGuesses => self.token_guesses,
            Limited::Resend => self.resend,
            Limited::Recovery => self.recovery,
            Limited::RecoveryPerAccount => self.recovery_per_account,
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

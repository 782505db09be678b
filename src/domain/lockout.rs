//! When repeated failed sign-ins of one login name pause its sign-ins, and
//! for how long: a rule as data, so the store can apply it in the same
//! transaction that counts the attempt.

use time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutRule {
    /// Consecutive failures before the first pause.
    pub threshold: u32,
    /// The first pause; it doubles with each further failure…
    pub first: Duration,
    /// …up to this.
    pub longest: Duration,
}

impl LockoutRule {
    /// The pause that follows the `count`-th consecutive failure, if any.
    pub fn pause_after(&self, count: u32) -> Option<Duration> {
        let doublings = count.checked_sub(self.threshold)?.min(16);
        Some((self.first * 2_i32.pow(doublings)).min(self.longest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_start_at_the_threshold_and_double_to_the_ceiling() {
        let rule = LockoutRule {
            threshold: 10,
            first: Duration::seconds(30),
            longest: Duration::minutes(15),
        };
        assert_eq!(rule.pause_after(9), None);
        assert_eq!(rule.pause_after(10), Some(Duration::seconds(30)));
        assert_eq!(rule.pause_after(11), Some(Duration::seconds(60)));
        assert_eq!(rule.pause_after(40), Some(Duration::minutes(15)));
    }
}

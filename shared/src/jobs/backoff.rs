//! Retry backoff, applied as the message's visibility timeout.

use std::time::Duration;

/// First retry delay.
pub const BASE: Duration = Duration::from_secs(10);
/// Longest retry delay.
pub const CAP: Duration = Duration::from_secs(15 * 60);

/// The un-jittered delay after the `receive_count`-th receive: 10 s, 20 s, 40 s, … capped
/// at 15 minutes.
pub fn ceiling(receive_count: u32) -> Duration {
    let exponent = receive_count.saturating_sub(1).min(16);
    BASE.saturating_mul(1 << exponent).min(CAP)
}

/// The visibility timeout to set after a retryable failure: a random point in the upper half
/// of [`ceiling`], so workspaces that failed together do not retry together.
pub fn delay(receive_count: u32) -> Duration {
    upper_half(ceiling(receive_count))
}

/// An in-process pause before the `attempt`-th retry of a call (1-based): `base` doubled per
/// attempt, capped at `cap`, jittered within the upper half.
pub fn pause(base: Duration, attempt: u32, cap: Duration) -> Duration {
    upper_half(
        base.saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(cap),
    )
}

fn upper_half(ceiling: Duration) -> Duration {
    let half = ceiling / 2;
    half + Duration::from_millis(fastrand::u64(0..=half.as_millis() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_from_ten_seconds_up_to_fifteen_minutes() {
        assert_eq!(ceiling(0), Duration::from_secs(10));
        assert_eq!(ceiling(1), Duration::from_secs(10));
        assert_eq!(ceiling(2), Duration::from_secs(20));
        assert_eq!(ceiling(4), Duration::from_secs(80));
        assert_eq!(ceiling(7), Duration::from_secs(640));
        assert_eq!(ceiling(8), CAP);
        assert_eq!(ceiling(u32::MAX), CAP);
    }

    #[test]
    fn pauses_double_per_attempt_up_to_the_cap() {
        let base = Duration::from_millis(100);
        for attempt in 1..6 {
            let ceiling = (base * (1 << (attempt - 1))).min(Duration::from_millis(800));
            let pause = pause(base, attempt, Duration::from_millis(800));
            assert!(pause >= ceiling / 2 && pause <= ceiling, "{pause:?}");
        }
    }

    #[test]
    fn delay_is_jittered_within_the_upper_half() {
        for count in 1..12 {
            let ceiling = ceiling(count);
            for _ in 0..200 {
                let d = delay(count);
                assert!(d >= ceiling / 2 && d <= ceiling, "{d:?} vs {ceiling:?}");
            }
        }
    }
}

//! A token bucket, for the per-socket client event rate limit. Pure: time is passed in.

use std::time::Instant;

/// Allows `rate` events per second on average, in bursts of up to `rate`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket refilling at `rate` per second (0 refuses everything).
    pub fn new(rate: u32, now: Instant) -> Self {
        let rate = f64::from(rate);
        Self {
            rate,
            tokens: rate,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_beyond_the_rate_is_refused_until_tokens_refill() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, start);
        let taken = (0..15).filter(|_| bucket.try_take(start)).count();
        assert_eq!(taken, 10);
        assert!(!bucket.try_take(start + Duration::from_millis(50)));
        assert!(bucket.try_take(start + Duration::from_millis(150)));
        let mut never = TokenBucket::new(0, start);
        assert!(!never.try_take(start + Duration::from_secs(5)));
    }
}

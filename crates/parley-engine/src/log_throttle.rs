//! Warnings about refused input, logged at most once per period: a flood of bad
//! requests or streams must not flood the log (and the disk) too. The metrics count
//! every refusal; the log says that they happen.
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often one kind of refusal may be logged.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Says yes at most once per [`LOG_EVERY`].
pub struct LogThrottle {
    start: Instant,
    /// Milliseconds since `start` of the last yes, plus one (0: never).
    last: AtomicU64,
}

impl Default for LogThrottle {
    fn default() -> LogThrottle {
        LogThrottle::new()
    }
}

impl LogThrottle {
    pub fn new() -> LogThrottle {
        LogThrottle {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    /// Whether to log this one.
    pub fn ready(&self) -> bool {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1) + 1;
        let last = self.last.load(Ordering::Relaxed);
        let every = LOG_EVERY.as_millis() as u64;
        if last != 0 && now.saturating_sub(last) < every {
            return false;
        }
        self.last
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::LogThrottle;

    #[test]
    fn a_flood_of_refusals_logs_one_line_per_period() {
        let throttle = LogThrottle::new();
        assert!(throttle.ready(), "the first refusal is logged");
        let more = (0..10_000).filter(|_| throttle.ready()).count();
        assert_eq!(more, 0, "the rest of the flood within the period is not");
    }
}

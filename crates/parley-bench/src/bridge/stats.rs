//! What the run counts, shared by every task of the load generator's one thread.
use std::time::Duration;

/// Latencies in 1 us buckets up to 100 ms, counted in place: recording a frame never
/// allocates, and percentiles are exact to the microsecond.
pub struct Histogram {
    buckets: Vec<u32>,
    overflow: u64,
    count: u64,
    max_ns: u64,
}

const BUCKET_NS: u64 = 1_000;
const BUCKETS: usize = 100_000;

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            buckets: vec![0; BUCKETS],
            overflow: 0,
            count: 0,
            max_ns: 0,
        }
    }

    pub fn record(&mut self, ns: u64) {
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
        match self.buckets.get_mut((ns / BUCKET_NS) as usize) {
            Some(bucket) => *bucket += 1,
            None => self.overflow += 1,
        }
    }

    /// The upper edge of the bucket holding quantile `q` (0..=1), in milliseconds; the
    /// maximum if it lies beyond the buckets; 0 when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += u64::from(*n);
            if seen >= rank {
                let edge = (i as u64 + 1) * BUCKET_NS;
                return ms(edge.min(self.max_ns));
            }
        }
        self.max_ms()
    }

    pub fn max_ms(&self) -> f64 {
        ms(self.max_ns)
    }
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Percentile of a small sample set (call setup times), in milliseconds.
pub fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e3
}

/// Counters of both simulated sides.
pub struct Stats {
    calls: usize,
    /// Calls whose first agent audio reached the Twilio side.
    pub established: usize,
    /// Time from opening the Twilio socket to the first agent audio, per established call.
    pub setup: Vec<Duration>,
    /// Calls that could not connect or broke before the end.
    pub failed: usize,
    pub frames_sent: u64,
    /// Echoes of this run's frames that reached the Twilio side.
    pub frames_received: u64,
    pub frames_out_of_order: u64,
    pub greetings_received: u64,
    pub clears_received: u64,
    pub interruptions_sent: u64,
    pub pings_sent: u64,
    pub pongs_ok: u64,
    /// Pings with no pong by the time the next was due.
    pub pongs_missed: u64,
    /// Added latency of every echoed frame: round trip minus the agent's hold.
    pub latency: Histogram,
    /// How late each tick of the frame clock ran while streaming.
    pub tick_lag: Histogram,
}

impl Stats {
    pub fn new(calls: usize) -> Stats {
        Stats {
            calls,
            established: 0,
            setup: Vec::with_capacity(calls),
            failed: 0,
            frames_sent: 0,
            frames_received: 0,
            frames_out_of_order: 0,
            greetings_received: 0,
            clears_received: 0,
            interruptions_sent: 0,
            pings_sent: 0,
            pongs_ok: 0,
            pongs_missed: 0,
            latency: Histogram::new(),
            tick_lag: Histogram::new(),
        }
    }

    /// Calls in the run.
    pub fn calls(&self) -> usize {
        self.calls
    }

    /// Counts a call that failed to connect or broke; the first failure is shown.
    pub fn failed_call(&mut self, index: usize, why: &str) {
        if self.failed == 0 {
            eprintln!("bench bridge: call {index} failed: {why}");
        }
        self.failed += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_buckets() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile_ms(0.5), 0.0);
        for us in 1..=100 {
            h.record(us * 1_000 - 500);
        }
        assert_eq!(h.quantile_ms(0.5), 0.05);
        assert_eq!(h.quantile_ms(0.99), 0.099);
        assert_eq!(h.max_ms(), 0.0995);
        h.record(250_000_000);
        assert_eq!(h.max_ms(), 250.0);
        assert_eq!(h.quantile_ms(1.0), 250.0);
    }

    #[test]
    fn percentiles_of_samples() {
        let samples: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&samples, 0.5), 5.0);
        assert_eq!(percentile_ms(&samples, 0.99), 10.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }
}

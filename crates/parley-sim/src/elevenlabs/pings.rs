//! `ping` / `pong` bookkeeping (reference F.5): ids increase from 0; each pong must echo an
//! outstanding ping's id.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Pings {
    next_id: u64,
    /// Unanswered pings, oldest first.
    outstanding: VecDeque<(u64, Instant)>,
    /// Round trip of the last answered ping, reported as `ping_ms` in the next one.
    last_rtt: Option<Duration>,
    /// A ping unanswered this long counts as missed.
    patience: Duration,
}

/// Result of a pong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pong {
    Matched,
    Unexpected,
}

impl Pings {
    pub(crate) fn new(interval: Duration) -> Self {
        Self {
            next_id: 0,
            outstanding: VecDeque::new(),
            last_rtt: None,
            patience: interval * 2,
        }
    }

    /// Registers a new ping: its event id and the `ping_ms` to report.
    pub(crate) fn send(&mut self, now: Instant) -> (u64, Option<u64>) {
        let id = self.next_id;
        self.next_id += 1;
        self.outstanding.push_back((id, now));
        let ping_ms = self
            .last_rtt
            .map(|rtt| u64::try_from(rtt.as_millis()).unwrap_or(u64::MAX));
        (id, ping_ms)
    }

    pub(crate) fn pong(&mut self, event_id: u64, now: Instant) -> Pong {
        match self.outstanding.iter().position(|(id, _)| *id == event_id) {
            Some(index) => {
                let (_, sent) = self.outstanding.remove(index).expect("index is in range");
                self.last_rtt = Some(now - sent);
                Pong::Matched
            }
            None => Pong::Unexpected,
        }
    }

    /// Forgets pings unanswered for too long; returns how many.
    pub(crate) fn expire(&mut self, now: Instant) -> u64 {
        let mut missed = 0;
        while let Some((_, sent)) = self.outstanding.front() {
            if now - *sent < self.patience {
                break;
            }
            self.outstanding.pop_front();
            missed += 1;
        }
        missed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pongs_must_echo_outstanding_ids() {
        let start = Instant::now();
        let mut pings = Pings::new(Duration::from_secs(1));
        assert_eq!(pings.send(start), (0, None));
        let later = start + Duration::from_millis(30);
        assert_eq!(pings.pong(0, later), Pong::Matched);
        assert_eq!(pings.pong(0, later), Pong::Unexpected, "answered twice");
        assert_eq!(pings.send(later), (1, Some(30)));
        assert_eq!(pings.pong(7, later), Pong::Unexpected);
        assert_eq!(pings.expire(later + Duration::from_millis(1999)), 0);
        assert_eq!(pings.expire(later + Duration::from_secs(2)), 1);
    }
}

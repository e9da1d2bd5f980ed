//! Shared timers: one interval serves many calls per tick.
//!
//! Calls are spread round-robin over `groups` groups; each tick of one interval wakes the
//! next group. With 20 ms frames and 20 groups a tick comes every millisecond and wakes a
//! twentieth of the calls, so frames leave in small bursts instead of one burst per 20 ms
//! (a burst of 900 sends would itself delay echoes by milliseconds).
use std::cell::Cell;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

pub struct Ticks {
    period: Duration,
    groups: Vec<watch::Sender<u64>>,
    next: Cell<usize>,
}

impl Ticks {
    /// Each group ticks once per `period`.
    pub fn new(period: Duration, groups: usize) -> Ticks {
        Ticks {
            period,
            groups: (0..groups.max(1)).map(|_| watch::Sender::new(0)).collect(),
            next: Cell::new(0),
        }
    }

    /// A receiver that sees its group's ticks (as `changed()`), groups taken in turn.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        let i = self.next.get();
        self.next.set((i + 1) % self.groups.len());
        self.groups[i].subscribe()
    }

    /// Ticks forever; run it as a task. Late ticks are made up (a 20 ms frame clock must
    /// keep its rate), so a loaded generator still sends 50 frames a second per call.
    pub async fn run(&self) {
        let step = self.period / self.groups.len() as u32;
        let mut interval = tokio::time::interval(step);
        interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let mut i = 0usize;
        loop {
            interval.tick().await;
            self.groups[i].send_modify(|n| *n += 1);
            i = (i + 1) % self.groups.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn groups_tick_in_turn() {
        let ticks = std::rc::Rc::new(Ticks::new(Duration::from_millis(4), 2));
        let mut a = ticks.subscribe();
        let mut b = ticks.subscribe();
        let a_again = ticks.subscribe();
        let runner = ticks.clone();
        tokio::task::LocalSet::new()
            .run_until(async move {
                tokio::task::spawn_local(async move { runner.run().await });
                a.changed().await.unwrap();
                assert!(a_again.has_changed().unwrap(), "same group as a");
                b.changed().await.unwrap();
                a.changed().await.unwrap();
            })
            .await;
    }
}

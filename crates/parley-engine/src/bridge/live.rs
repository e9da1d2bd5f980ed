//! The bridges live on this node, so that a node shutting down can close each call's
//! sockets with 1001 (going away) rather than let them drop (peers would see 1006).
//!
//! Each bridge registers once and holds its own one-shot receiver: polling it costs a few
//! atomics on the bridge's own state, where a shared `watch`/`Notify` would take a lock
//! shared by every call on each wake-up.
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{oneshot, Notify};

#[derive(Default)]
pub struct Bridges {
    state: Mutex<State>,
    /// Woken when the last bridge leaves after the shutdown began.
    emptied: Notify,
    /// Caller frames dropped because they waited too long for the agent's formats. Also
    /// counted in Prometheus; kept here too because the recorder is one per process,
    /// and tests run many nodes in one process, each asserting its own count.
    held_frames_dropped: AtomicU64,
    /// Agent connections opened ahead of their media streams.
    pub early: super::early::EarlyAgents,
    /// Streams refused before they authenticated: logged, but not each one of a flood.
    pub(crate) refusals: crate::log_throttle::LogThrottle,
}

#[derive(Default)]
struct State {
    stopping: bool,
    next: u64,
    /// Each live bridge, with its signal until the shutdown sends it.
    live: HashMap<u64, Option<oneshot::Sender<()>>>,
}

/// One bridge's place on the list; leaving it (dropping this) takes it off.
pub(crate) struct Registration<'a> {
    bridges: &'a Bridges,
    id: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut state = self.bridges.state.lock().expect("bridge list lock");
        state.live.remove(&self.id);
        if state.stopping && state.live.is_empty() {
            self.bridges.emptied.notify_waiters();
        }
    }
}

impl Bridges {
    /// Registers a bridge; `None` once the node is shutting down (the stream is refused).
    pub(crate) fn register(&self) -> Option<(Registration<'_>, oneshot::Receiver<()>)> {
        let mut state = self.state.lock().expect("bridge list lock");
        if state.stopping {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        let id = state.next;
        state.next += 1;
        state.live.insert(id, Some(tx));
        Some((Registration { bridges: self, id }, rx))
    }

    /// Tells every live bridge that the node is going away, then waits (at most `grace`)
    /// until each has closed its sockets. New streams are refused from here on.
    pub async fn shut_down(&self, grace: Duration) {
        self.early.shut_down();
        let notified = self.emptied.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let count = {
            let mut state = self.state.lock().expect("bridge list lock");
            state.stopping = true;
            for signal in state.live.values_mut() {
                if let Some(tx) = signal.take() {
                    let _ = tx.send(());
                }
            }
            state.live.len()
        };
        if count == 0 {
            return;
        }
        tracing::info!(bridges = count, "closing live bridges: node shutting down");
        if tokio::time::timeout(grace, notified).await.is_err() {
            tracing::warn!("some bridges did not close in time");
        }
    }

    pub(crate) fn count_held_frames_dropped(&self, frames: u32) {
        self.held_frames_dropped
            .fetch_add(frames.into(), Ordering::Relaxed);
        metrics::counter!("parley_bridge_frames_dropped_total", "reason" => "agent_format_unknown")
            .increment(frames.into());
    }

    /// Caller frames dropped on this node (over the hold bound) before an agent said
    /// which format it wants.
    pub fn held_frames_dropped(&self) -> u64 {
        self.held_frames_dropped.load(Ordering::Relaxed)
    }

    /// Bridges live on this node.
    pub fn live(&self) -> usize {
        self.state.lock().expect("bridge list lock").live.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_signals_each_bridge_and_waits_for_it_to_leave() {
        let bridges = Bridges::default();
        let (gone, _) = bridges.register().unwrap();
        drop(gone);
        let (registration, signal) = bridges.register().unwrap();
        let bridge = async move {
            signal.await.expect("signalled, not dropped");
            drop(registration);
        };
        tokio::join!(bridge, bridges.shut_down(Duration::from_secs(5)));
        assert_eq!(bridges.live(), 0);
        assert!(bridges.register().is_none(), "no new bridge after shutdown");
        // Nothing live: returns at once.
        bridges.shut_down(Duration::from_secs(5)).await;
    }
}

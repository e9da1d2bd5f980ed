//! The node's background loops (the dialer, the webhook and sheet workers, retention, the
//! post-call fallback): each runs passes until the node stops, and stops between passes.
//! A node shutting down thus starts no dial, delivery or write once it was told to stop,
//! finishes the pass it is in (while its HTTP server still answers the calls it placed),
//! and its store is closed only after the last pass ended.
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The loops started, and the signal that stops them.
pub struct Background {
    stop: watch::Sender<bool>,
    tasks: Vec<(&'static str, JoinHandle<()>)>,
}

/// What a loop waits on between passes: the node stopping.
#[derive(Clone)]
pub struct Stopping(watch::Receiver<bool>);

impl Stopping {
    /// Waits for `wait` (the time to the next pass); false when the node stopped first,
    /// or had stopped already.
    pub async fn before_next(&mut self, wait: impl Future<Output = ()>) -> bool {
        if *self.0.borrow() {
            return false;
        }
        let stopped = tokio::select! {
            // A dropped sender is a stop as well.
            _ = self.0.wait_for(|stopped| *stopped) => true,
            () = wait => false,
        };
        !stopped && !*self.0.borrow()
    }

    /// [`Stopping::before_next`] for a loop that runs at every tick of `interval`.
    pub async fn before_tick(&mut self, interval: &mut tokio::time::Interval) -> bool {
        self.before_next(async {
            interval.tick().await;
        })
        .await
    }
}

impl Default for Background {
    fn default() -> Self {
        Background::new()
    }
}

impl Background {
    pub fn new() -> Background {
        Background {
            stop: watch::channel(false).0,
            tasks: Vec::new(),
        }
    }

    /// Spawns the loop `run` makes of a [`Stopping`]; `name` is for the log.
    pub fn spawn<F>(&mut self, name: &'static str, run: impl FnOnce(Stopping) -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let task = tokio::spawn(run(Stopping(self.stop.subscribe())));
        self.tasks.push((name, task));
    }

    /// Tells every loop to stop and waits, at most `grace` in all, for each to end its
    /// pass; a loop still in a pass then is cancelled (its transaction rolls back, and
    /// what it claimed is claimed again when its lease runs out).
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::Instant::now() + grace;
        for (name, mut task) in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                tracing::warn!(
                    task = name,
                    "background task still busy at shutdown; cancelled"
                );
                task.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn a_loop_ends_its_pass_and_starts_no_other_once_told_to_stop() {
        let passes = Arc::new(AtomicU32::new(0));
        let (in_pass_tx, mut in_pass) = tokio::sync::mpsc::channel::<()>(1);
        let (finish_tx, finish) = tokio::sync::oneshot::channel::<()>();
        let mut background = Background::new();
        let counted = passes.clone();
        background.spawn("test loop", move |mut stopping| async move {
            let mut finish = Some(finish);
            loop {
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = in_pass_tx.send(()).await;
                if let Some(finish) = finish.take() {
                    // The first pass is still running when the stop comes.
                    let _ = finish.await;
                }
                if !stopping.before_next(std::future::pending()).await {
                    break;
                }
            }
        });
        in_pass.recv().await.unwrap();
        let stopped = tokio::spawn(background.stop(Duration::from_secs(10)));
        tokio::task::yield_now().await;
        assert!(!stopped.is_finished(), "the stop waits for the pass");
        finish_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), stopped)
            .await
            .expect("stopped within the grace")
            .unwrap();
        assert_eq!(passes.load(Ordering::SeqCst), 1, "no pass after the stop");
    }

    #[tokio::test]
    async fn a_loop_busy_past_the_grace_is_cancelled() {
        let mut background = Background::new();
        background.spawn("stuck", |_| std::future::pending());
        tokio::time::timeout(
            Duration::from_secs(10),
            background.stop(Duration::from_millis(10)),
        )
        .await
        .expect("the stop gives up after its grace");
    }
}

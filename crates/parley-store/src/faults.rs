//! Fault injection for the atomicity tests. Every write a [`crate::Tx`] makes, and its
//! commit, passes a named write point. With the `testing` feature (tests only; release
//! builds never enable it) a test can arm a store to fail the Nth write point from now,
//! and can read back the points an event passed, so that it can fail each in turn.
//! Without the feature every point is a no-op that the compiler removes.
use crate::{Result, Store};

#[cfg(feature = "testing")]
pub use armed::FaultPlan;

#[derive(Clone, Default)]
pub(crate) struct Faults {
    #[cfg(feature = "testing")]
    plan: std::sync::Arc<armed::FaultPlan>,
}

impl Faults {
    #[cfg(not(feature = "testing"))]
    #[inline(always)]
    pub(crate) fn point(&self, _name: &'static str) -> Result<()> {
        Ok(())
    }

    #[cfg(feature = "testing")]
    pub(crate) fn point(&self, name: &'static str) -> Result<()> {
        self.plan.pass(name)
    }
}

impl Store {
    /// The fault plan shared by every transaction of this store (and its clones).
    #[cfg(feature = "testing")]
    pub fn faults(&self) -> &FaultPlan {
        &self.faults.plan
    }
}

#[cfg(feature = "testing")]
mod armed {
    use crate::{Result, StoreError};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Mutex;

    /// What the store's write points do: count down to a failure, and remember their names.
    #[derive(Default)]
    pub struct FaultPlan {
        /// 0: disarmed; n: the nth point passed from now fails.
        countdown: AtomicU64,
        /// Whether points passed are remembered (only while a test watches: a long test
        /// must not accumulate them).
        recording: AtomicBool,
        passed: Mutex<Vec<&'static str>>,
    }

    impl FaultPlan {
        /// Fails the `nth` (1-based) write point passed from now on, once.
        pub fn fail_at(&self, nth: u64) {
            self.record();
            self.countdown.store(nth, Ordering::SeqCst);
        }

        /// Starts remembering the points passed, from none.
        pub fn record(&self) {
            self.passed.lock().expect("fault plan").clear();
            self.recording.store(true, Ordering::SeqCst);
        }

        /// Forgets the points passed, stops remembering them and disarms.
        pub fn reset(&self) {
            self.countdown.store(0, Ordering::SeqCst);
            self.recording.store(false, Ordering::SeqCst);
            self.passed.lock().expect("fault plan").clear();
        }

        /// The points passed since the last `record` or `fail_at`, in order.
        pub fn passed(&self) -> Vec<&'static str> {
            self.passed.lock().expect("fault plan").clone()
        }

        /// Whether the armed failure has happened (or none was armed).
        pub fn fired(&self) -> bool {
            self.countdown.load(Ordering::SeqCst) == 0
        }

        pub(crate) fn pass(&self, name: &'static str) -> Result<()> {
            if self.recording.load(Ordering::SeqCst) {
                self.passed.lock().expect("fault plan").push(name);
            }
            let fire = self
                .countdown
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok_and(|before| before == 1);
            if fire {
                return Err(StoreError::Injected(name));
            }
            Ok(())
        }
    }
}

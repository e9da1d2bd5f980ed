//! Batches of one import written at the same time, each in its own transaction, with the
//! result of writing them one after the other.
//!
//! A batch writes its contacts only once the batch before has written (not committed)
//! its own, and commits only once the batch before has committed. So:
//! * a phone the batch before wrote is found by this batch's insert, which waits for that
//!   transaction and then sees the contact: the first row of the file still wins, and
//!   contact ids still follow the file;
//! * a batch never waits for a later one (no deadlock the database could not see): the
//!   rows both may touch (contacts they share, a tag they both add) the earlier one has
//!   written before the later one may touch them, and the rows every batch writes (the
//!   import's counters, the campaign's) are written after the batch before committed;
//! * what is committed is always a prefix of the file's batches: a batch whose
//!   predecessor failed does not commit.
//!
//! The work that overlaps is a batch's copy and merge with the tag links, report lines
//! and commit of the batch before.
use crate::{Result, StoreError};
use tokio::sync::oneshot;

/// Hands out the turns of an import's batches, in file order.
#[derive(Default)]
pub struct BatchTurns {
    before: Option<(oneshot::Receiver<()>, oneshot::Receiver<()>)>,
}

impl BatchTurns {
    pub fn new() -> BatchTurns {
        BatchTurns::default()
    }

    /// The turn of the next batch of the file.
    pub fn next_turn(&mut self) -> BatchTurn {
        let (wrote_tx, wrote_rx) = oneshot::channel();
        let (committed_tx, committed_rx) = oneshot::channel();
        let (wrote_before, committed_before) = self.before.take().unzip();
        self.before = Some((wrote_rx, committed_rx));
        BatchTurn {
            wrote_before,
            committed_before,
            wrote: Some(wrote_tx),
            committed: Some(committed_tx),
        }
    }
}

/// One batch's place among the batches being written: what it waits for from the batch
/// before, and what it tells the batch after. Dropped before the batch committed (it
/// failed), the batch after learns that and does not commit either.
#[derive(Debug, Default)]
pub struct BatchTurn {
    wrote_before: Option<oneshot::Receiver<()>>,
    committed_before: Option<oneshot::Receiver<()>>,
    wrote: Option<oneshot::Sender<()>>,
    committed: Option<oneshot::Sender<()>>,
}

impl BatchTurn {
    /// The turn of a batch written alone (no batch of its import is written meanwhile).
    pub fn alone() -> BatchTurn {
        BatchTurn::default()
    }

    /// Waits until the batch before has written its contacts.
    pub(crate) async fn may_write(&mut self) -> Result<()> {
        wait(self.wrote_before.take()).await
    }

    /// This batch's contacts (and tags) are written: the batch after may write its own.
    pub(crate) fn written(&mut self) {
        if let Some(tx) = self.wrote.take() {
            // The batch after may have failed already; nothing waits then.
            let _ = tx.send(());
        }
    }

    /// Waits until the batch before has committed.
    pub(crate) async fn may_commit(&mut self) -> Result<()> {
        wait(self.committed_before.take()).await
    }

    /// This batch is committed.
    pub(crate) fn committed(&mut self) {
        self.written();
        if let Some(tx) = self.committed.take() {
            let _ = tx.send(());
        }
    }
}

async fn wait(before: Option<oneshot::Receiver<()>>) -> Result<()> {
    match before {
        None => Ok(()),
        Some(rx) => rx.await.map_err(|_| StoreError::EarlierBatchFailed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_turn_waits_for_the_one_before_and_fails_with_it() {
        let mut turns = BatchTurns::new();
        let mut first = turns.next_turn();
        let mut second = turns.next_turn();
        let mut third = turns.next_turn();
        first.may_write().await.unwrap();
        first.may_commit().await.unwrap();
        first.written();
        second.may_write().await.unwrap();
        first.committed();
        second.may_commit().await.unwrap();
        // The second fails before writing: the third may neither write nor commit.
        drop(second);
        assert!(matches!(
            third.may_write().await,
            Err(StoreError::EarlierBatchFailed)
        ));
        assert!(matches!(
            third.may_commit().await,
            Err(StoreError::EarlierBatchFailed)
        ));
    }
}

//! The simulator's conversation records, and the WebSockets clients opened (a socket
//! may close before it starts a conversation), both bounded in number.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use tokio::sync::watch;

use super::record::{Record, SimConversation};
use parley_elevenlabs::conversation::ConversationStatus;

/// Finished conversations beyond this many are forgotten, oldest first.
const MAX_RECORDS: usize = 10_000;

#[derive(Debug)]
pub(crate) struct Store {
    records: Mutex<Records>,
    /// Bumped on every change, so tests can wait for a condition without sleeping.
    changes: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Records {
    by_id: HashMap<String, Record>,
    /// Ids in creation order.
    order: VecDeque<String>,
    /// Sockets in the order they were opened, numbered from `first_socket`.
    sockets: VecDeque<SimSocket>,
    first_socket: u64,
}

/// One conversation WebSocket a client opened, whether or not it started a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimSocket {
    pub agent_id: String,
    /// The conversation its initiation data started; `None` until then.
    pub conversation_id: Option<String>,
    /// How a socket that never started a conversation ended; `None` while it waits, and
    /// for a socket that started one (see [`SimConversation::client_close_code`]).
    pub closed_unstarted: Option<UnstartedEnd>,
}

/// How a socket ended before its initiation data came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnstartedEnd {
    /// The client closed it: its close code (1005 when the frame had none) and reason.
    Client { code: u16, reason: String },
    /// The connection ended without a close frame (1006).
    Vanished,
    /// No initiation in time: the simulator closed it (1008).
    TimedOut,
}

/// A socket's place in [`Store`]'s list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SocketId(u64);

impl Default for Store {
    fn default() -> Self {
        Self {
            records: Mutex::default(),
            changes: watch::Sender::new(0),
        }
    }
}

impl Store {
    pub(crate) fn insert(&self, record: Record) {
        {
            let mut records = self.lock();
            let id = record.summary.conversation_id.clone();
            records.order.push_back(id.clone());
            records.by_id.insert(id, record);
            records.evict();
        }
        self.notify();
    }

    /// Applies `change` to a record, if it is still kept.
    pub(crate) fn update<T>(&self, id: &str, change: impl FnOnce(&mut Record) -> T) -> Option<T> {
        let result = self.lock().by_id.get_mut(id).map(change);
        self.notify();
        result
    }

    /// Reads a record without counting as a change.
    pub(crate) fn read<T>(&self, id: &str, view: impl FnOnce(&Record) -> T) -> Option<T> {
        self.lock().by_id.get(id).map(view)
    }

    pub(crate) fn socket_opened(&self, agent_id: &str) -> SocketId {
        let id = {
            let mut records = self.lock();
            records.sockets.push_back(SimSocket {
                agent_id: agent_id.to_owned(),
                conversation_id: None,
                closed_unstarted: None,
            });
            if records.sockets.len() > MAX_RECORDS {
                records.sockets.pop_front();
                records.first_socket += 1;
            }
            SocketId(records.first_socket + records.sockets.len() as u64 - 1)
        };
        self.notify();
        id
    }

    /// Applies `change` to a socket's entry, if it is still kept.
    pub(crate) fn update_socket(&self, id: SocketId, change: impl FnOnce(&mut SimSocket)) {
        {
            let mut records = self.lock();
            let index = id.0.checked_sub(records.first_socket);
            if let Some(socket) = index.and_then(|i| records.sockets.get_mut(i as usize)) {
                change(socket);
            }
        }
        self.notify();
    }

    pub(crate) fn sockets(&self) -> Vec<SimSocket> {
        self.lock().sockets.iter().cloned().collect()
    }

    pub(crate) fn snapshot(&self) -> Vec<SimConversation> {
        let records = self.lock();
        records
            .order
            .iter()
            .filter_map(|id| records.by_id.get(id))
            .map(|r| r.summary.clone())
            .collect()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn notify(&self) {
        self.changes.send_modify(|version| *version += 1);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Records {
    /// Drops the oldest finished conversations while over the limit; live ones stay.
    fn evict(&mut self) {
        while self.by_id.len() > MAX_RECORDS {
            let done = self.order.iter().position(|id| {
                self.by_id
                    .get(id)
                    .is_none_or(|r| r.summary.status == ConversationStatus::Done)
            });
            let Some(index) = done else { return };
            if let Some(id) = self.order.remove(index) {
                self.by_id.remove(&id);
            }
        }
    }
}

//! The live TCP connections, by client id: where the stats find producers
//! (and the identities of subscribers).

use super::shared::Handle;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Default)]
pub struct Conns {
    map: Mutex<BTreeMap<u64, Handle>>,
    /// A connection went away (shutdown waits for all of them).
    pub removed: Notify,
}

impl Conns {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Handle>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, conn: &Handle) {
        self.map().insert(conn.id, Arc::clone(conn));
    }

    pub fn remove(&self, id: u64) {
        self.map().remove(&id);
        self.removed.notify_waiters();
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }

    /// Every live connection, oldest first.
    pub fn all(&self) -> Vec<Handle> {
        self.map().values().cloned().collect()
    }
}

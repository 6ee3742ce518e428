//! The live TCP connections, by client id: where the stats find producers
//! (and the identities of subscribers).

use super::shared::Handle;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Conns(Mutex<BTreeMap<u64, Handle>>);

impl Conns {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Handle>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, conn: &Handle) {
        self.map().insert(conn.id, Arc::clone(conn));
    }

    pub fn remove(&self, id: u64) {
        self.map().remove(&id);
    }

    /// Every live connection, oldest first.
    pub fn all(&self) -> Vec<Handle> {
        self.map().values().cloned().collect()
    }
}

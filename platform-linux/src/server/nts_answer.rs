//! `nts enable` on the server path: every [`TimeServer`] (the main loop's and each
//! server thread's) keeps its own copy of the master keys in its core server and
//! refreshes it when the shared [`KeyStore`]'s generation changes (a rotation), so
//! the batched path opens cookies without a lock per request.

use std::sync::Arc;

use super::TimeServer;
use crate::server::nts::KeyStore;

impl TimeServer {
    /// Serves NTS with the keys of `store` from now on (`None`: stops). The server
    /// threads, running or not yet, take the same store (through
    /// [`TimeServer::publish`] and at spawn) and each seeds its own nonces.
    pub fn set_nts_store(&mut self, store: Option<Arc<KeyStore>>) {
        self.nts_store = store;
        self.nts_generation = None;
        self.refresh_nts_keys();
        for t in &mut self.pending {
            t.adopt_nts_store(self.nts_store.as_ref());
        }
    }

    /// The key store NTS is served with, if any.
    pub fn nts_store(&self) -> Option<&Arc<KeyStore>> {
        self.nts_store.as_ref()
    }

    /// Takes `store` (a server thread, from what the main thread published) and
    /// refreshes the keys if it changed or rotated.
    pub(crate) fn adopt_nts_store(&mut self, store: Option<&Arc<KeyStore>>) {
        let same = match (&self.nts_store, store) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.nts_store = store.cloned();
            self.nts_generation = None;
        }
        self.refresh_nts_keys();
    }

    /// Installs the store's keys when its generation is not the one installed (a
    /// rotation, or the first call). Cheap otherwise: one atomic load.
    pub fn refresh_nts_keys(&mut self) {
        let Some(store) = &self.nts_store else {
            if self.nts_generation.take().is_some() {
                self.server.clear_nts_keys();
            }
            return;
        };
        let generation = store.generation();
        if self.nts_generation == Some(generation) {
            return;
        }
        // A fresh seed each time, drawn by this thread: no two servers share nonces.
        let keys = store.current();
        self.server
            .set_nts_keys(keys, crate::os::entropy::random_bytes());
        self.nts_generation = Some(generation);
    }
}

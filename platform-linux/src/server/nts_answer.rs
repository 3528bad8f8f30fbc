//! `nts enable` on the server path: the master keys are part of the published
//! state ([`Published::nts`](crate::server::publish::Published)); every
//! [`TimeServer`] (the main loop's and each server thread's) keeps its own copy in
//! its core server and refreshes it when the shared [`KeyStore`]'s generation
//! changes (a rotation), so the batched path opens cookies without a lock per
//! request.

use std::sync::Arc;

use super::TimeServer;
use crate::server::nts::KeyStore;

impl TimeServer {
    /// Serves NTS with the keys of `store` from now on (`None`: stops), here and,
    /// through the published state, on every server thread, each seeding its own
    /// nonces.
    pub fn set_nts_store(&mut self, store: Option<Arc<KeyStore>>) {
        self.note_store_change(store.as_ref());
        self.republish(|p| p.nts = store);
    }

    /// Before `store` replaces the current one: a different store is installed
    /// afresh (its generations are its own); none clears the keys at the next
    /// refresh.
    pub(super) fn note_store_change(&mut self, store: Option<&Arc<KeyStore>>) {
        if store.is_some() && !super::same_store(self.state.nts.as_ref(), store) {
            self.nts_generation = None;
        }
    }

    /// The key store NTS is served with, if any.
    pub fn nts_store(&self) -> Option<&Arc<KeyStore>> {
        self.state.nts.as_ref()
    }

    /// Installs the store's keys when its generation is not the one installed (a
    /// rotation, or the first call). Cheap otherwise: one atomic load.
    pub fn refresh_nts_keys(&mut self) {
        let Some(store) = &self.state.nts else {
            if self.nts_generation.take().is_some() {
                self.ep.server_mut().clear_nts_keys();
            }
            return;
        };
        let generation = store.generation();
        if self.nts_generation == Some(generation) {
            return;
        }
        // A fresh seed each time, drawn by this thread: no two servers share nonces.
        let keys = store.current();
        self.ep
            .server_mut()
            .set_nts_keys(keys, crate::os::entropy::random_bytes());
        self.nts_generation = Some(generation);
    }
}

//! NTS-KE for slewd (RFC 8915 §4): the TLS side that slew-core leaves to the port.
//!
//! | module | stage |
//! |---|---|
//! | [`tls`] | rustls configurations: TLS 1.3 only, ring, ALPN `ntske/1`, roots, PEM files |
//! | [`stream`] | a rustls connection over a blocking socket, one deadline per stage |
//! | [`client`] | one NTS-KE exchange, and [`KeClient`]: exchanges on threads, results over a channel |
//! | [`client_stats`] | [`KeClientStats`]: the client's KE outcomes since start, failures by reason |
//! | [`error`] | [`KeFailure`]: why a KE failed, in words that say what to do |
//! | [`backoff`] | when to retry a failed KE |
//! | [`listener`] | the server's TCP sockets (one per family, as the NTP sockets) |
//! | [`server`] | [`KeServer`]: bounded NTS-KE service with fresh cookies |
//! | [`keystore`] | [`KeyStore`]: master keys shared with the NTP server path, rotated, persisted |
//!
//! Wiring (the daemon's part): the client side makes one [`KeClient`] and calls
//! [`KeClient::spawn`] when an association's jar `needs_key_exchange()`; the loop
//! drains [`KeClient::try_recv`] each turn (it never blocks) and installs the
//! [`client::KeSuccess`]'s jar, or logs the [`KeFailure`] and waits
//! [`backoff::retry_after`]. The server side loads a [`KeyStore`] once
//! ([`KeyStore::load_or_create`]), hands the `Arc` to [`KeServer::start`] and to the
//! NTP server path (which opens cookies with [`KeyStore::current`], refreshing its copy
//! when [`KeyStore::generation`] changes), and keeps the [`RotationTimer`] of
//! [`KeyStore::spawn_rotation`] (or calls [`KeyStore::rotate_if_due`] from its own
//! timer).

pub mod backoff;
pub mod client;
pub mod client_stats;
pub mod error;
pub mod keystore;
pub mod listener;
pub mod server;
pub mod stream;
pub mod tls;

pub use crate::settings::nts::{NtsServerSettings, NtsSettings, NtsSource};
pub use client::{KeClient, KeDone, KeRequest, KeSuccess, KeTimeouts};
pub use client_stats::KeClientStats;
pub use error::KeFailure;
pub use keystore::{KeyStore, LoadOutcome, RotationTimer};
pub use server::{KeLimits, KeServer, KeServerConfig, KeServerError, KeServerStats};
pub use tls::TlsFileError;

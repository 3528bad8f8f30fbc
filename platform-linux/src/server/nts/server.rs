//! The NTS-KE server: TCP listeners, TLS 1.3 with ALPN `ntske/1` required, the
//! request through [`RequestReader`], an answer of eight fresh cookies sealed under
//! the shared [`KeyStore`] (or the right error record), then close.
//!
//! Bounded, because an NTS-KE port is open to the world (ntpd-rs' CVE-2024-38528 was
//! connections held open without limit): at most [`KeLimits::max_connections`] at once
//! and [`KeLimits::per_address`] from one IP address (more are closed at accept, before
//! any TLS work); the handshake and the request each have a deadline that a peer
//! trickling bytes cannot extend; a request is at most [`MAX_REQUEST_BYTES`] of
//! plaintext; rustls' own buffers are capped. One accept thread polls the listeners;
//! each admitted connection has a small thread of its own, so at most
//! `max_connections` exist. Nothing here touches the NTP loop.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use rustls::server::ServerConfig;
use rustls::{Connection, ServerConnection};
use slew_core::nts::cookie::COOKIE_LEN;
use slew_core::nts::ke::{ErrorCode, Feed, RecordDecoder};
use slew_core::nts::ke_msg::{
    write_accept, write_error, write_no_aead, write_no_protocol, RequestOutcome, RequestReader,
    ALPN, KE_PORT, MAX_COOKIES,
};

use super::client::export_keys;
use super::keystore::KeyStore;
use super::{listener, stream, tls};
use crate::os::entropy::random_bytes;

/// Longest request read, bytes of plaintext (a real one is 16 bytes; chrony's limit
/// is of this order). Past it: Bad Request.
pub const MAX_REQUEST_BYTES: usize = 1024;

/// Resource limits of the NTS-KE server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeLimits {
    /// Connections at once, all addresses.
    pub max_connections: usize,
    /// Connections at once from one IP address.
    pub per_address: usize,
    /// Time from accept to the end of the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time from the end of the handshake to the complete request (and the answer).
    pub idle_timeout: Duration,
}

impl Default for KeLimits {
    fn default() -> Self {
        KeLimits {
            max_connections: 64,
            per_address: 8,
            handshake_timeout: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(3),
        }
    }
}

/// What the NTS-KE server needs.
#[derive(Debug, Clone)]
pub struct KeServerConfig {
    /// PEM certificate chain (`nts cert FILE`).
    pub cert_file: PathBuf,
    /// PEM private key (`nts key FILE`).
    pub key_file: PathBuf,
    /// Addresses to listen on; empty: both wildcards on `port`.
    pub listen: Vec<SocketAddr>,
    /// Port for the wildcards (default [`KE_PORT`]).
    pub port: u16,
    /// A Server record to send (the NTP server's name), if not this host.
    pub ntp_server: Option<String>,
    /// A Port record to send, if NTP is not on 123.
    pub ntp_port: Option<u16>,
    /// Bounds.
    pub limits: KeLimits,
}

impl KeServerConfig {
    /// Both wildcards on 4460, default limits, no Server/Port records.
    pub fn new(cert_file: PathBuf, key_file: PathBuf) -> Self {
        KeServerConfig {
            cert_file,
            key_file,
            listen: Vec::new(),
            port: KE_PORT,
            ntp_server: None,
            ntp_port: None,
            limits: KeLimits::default(),
        }
    }
}

/// Counters of the NTS-KE server (for metrics).
#[derive(Debug, Default)]
pub struct KeServerStats {
    /// Connections admitted.
    pub accepted: AtomicU64,
    /// Connections closed at accept: over the total or per-address limit.
    pub refused_busy: AtomicU64,
    /// Requests answered with cookies.
    pub served: AtomicU64,
    /// Requests answered with an Error, empty Next Protocol or empty AEAD record.
    pub refused_request: AtomicU64,
    /// Handshakes that failed or timed out, or without ALPN `ntske/1`.
    pub failed_handshake: AtomicU64,
    /// Requests not complete before the idle deadline, or closed early.
    pub failed_request: AtomicU64,
    /// Connections open now.
    pub active: AtomicUsize,
    /// Most connections open at once since start.
    pub peak_active: AtomicUsize,
}

struct Shared {
    /// Swapped by [`KeServer::replace_certificate`] (SIGHUP); each connection takes
    /// the one in force when it is admitted.
    config: RwLock<Arc<ServerConfig>>,
    keys: Arc<KeyStore>,
    ntp_server: Option<String>,
    ntp_port: Option<u16>,
    limits: KeLimits,
    stats: Arc<KeServerStats>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// A running NTS-KE server. [`stop`](Self::stop) (or drop) ends it.
#[derive(Debug)]
pub struct KeServer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    local: Vec<SocketAddr>,
    stats: Arc<KeServerStats>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("limits", &self.limits)
            .finish()
    }
}

/// Why the NTS-KE server did not start, or kept its certificate.
#[derive(Debug)]
pub enum KeServerError {
    /// The certificate or the key cannot be served.
    Tls(tls::TlsFileError),
    /// A listening socket could not be bound.
    Bind(std::io::Error),
    /// The accept thread could not be started.
    Thread(std::io::Error),
    /// The configuration's lock is poisoned (a thread panicked holding it).
    Poisoned,
}

impl std::fmt::Display for KeServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tls(e) => e.fmt(f),
            Self::Bind(e) => e.fmt(f),
            Self::Thread(e) => write!(f, "NTS-KE: cannot start the accept thread: {e}"),
            Self::Poisoned => f.write_str("the NTS-KE server's configuration lock is poisoned"),
        }
    }
}

impl std::error::Error for KeServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Tls(e) => Some(e),
            Self::Bind(e) | Self::Thread(e) => Some(e),
            Self::Poisoned => None,
        }
    }
}

impl From<tls::TlsFileError> for KeServerError {
    fn from(e: tls::TlsFileError) -> Self {
        Self::Tls(e)
    }
}

impl KeServer {
    /// Reads the certificate and key, binds the listeners and starts serving.
    pub fn start(cfg: &KeServerConfig, keys: Arc<KeyStore>) -> Result<KeServer, KeServerError> {
        let config = tls::server_config(&cfg.cert_file, &cfg.key_file)?;
        let listeners = listener::bind_all(&cfg.listen, cfg.port).map_err(KeServerError::Bind)?;
        let local = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect();
        let stats = Arc::new(KeServerStats::default());
        let shared = Arc::new(Shared {
            config: RwLock::new(config),
            keys,
            ntp_server: cfg.ntp_server.clone(),
            ntp_port: cfg.ntp_port,
            limits: cfg.limits,
            stats: stats.clone(),
            per_ip: Mutex::new(HashMap::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let shared2 = shared.clone();
        let thread = thread::Builder::new()
            .name("nts-ke accept".into())
            .spawn(move || accept_loop(&listeners, &shared2, &stop2))
            .map_err(KeServerError::Thread)?;
        Ok(KeServer {
            stop,
            thread: Some(thread),
            local,
            stats,
            shared,
        })
    }

    /// Serves a new certificate chain and key from now on (SIGHUP): connections
    /// admitted later handshake with it, those under way finish with the old one.
    /// On error (unreadable, no key, key and certificate do not match) the one in
    /// use stays.
    pub fn replace_certificate(
        &self,
        cert_file: &std::path::Path,
        key_file: &std::path::Path,
    ) -> Result<(), KeServerError> {
        let config = tls::server_config(cert_file, key_file)?;
        let mut slot = self
            .shared
            .config
            .write()
            .map_err(|_| KeServerError::Poisoned)?;
        *slot = config;
        Ok(())
    }

    /// The addresses listened on (with the ports actually bound).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local
    }

    /// The counters.
    pub fn stats(&self) -> &KeServerStats {
        &self.stats
    }

    /// Stops accepting; connections in progress end by their deadlines.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for KeServer {
    fn drop(&mut self) {
        self.halt();
    }
}

fn accept_loop(listeners: &[TcpListener], shared: &Arc<Shared>, stop: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        let mut fds: Vec<PollFd> = listeners
            .iter()
            .map(|l| PollFd::new(l.as_fd(), PollFlags::POLLIN))
            .collect();
        // A short timeout so `stop` is seen promptly.
        if poll(&mut fds, PollTimeout::from(200u16)).unwrap_or(0) <= 0 {
            continue;
        }
        for l in listeners {
            while let Ok((tcp, peer)) = l.accept() {
                admit(tcp, peer, shared);
            }
        }
    }
}

/// Releases the connection's slots when its thread ends, however it ends.
struct Slot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.stats.active.fetch_sub(1, Ordering::AcqRel);
        if let Ok(mut m) = self.shared.per_ip.lock() {
            if let Some(n) = m.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    m.remove(&self.ip);
                }
            }
        }
    }
}

fn admit(tcp: TcpStream, peer: SocketAddr, shared: &Arc<Shared>) {
    let stats = &shared.stats;
    let ip = peer.ip();
    let admitted = {
        let Ok(mut m) = shared.per_ip.lock() else {
            return;
        };
        let from_ip = m.get(&ip).copied().unwrap_or(0);
        let active = stats.active.load(Ordering::Acquire);
        if active >= shared.limits.max_connections || from_ip >= shared.limits.per_address {
            false
        } else {
            m.insert(ip, from_ip + 1);
            let now = stats.active.fetch_add(1, Ordering::AcqRel) + 1;
            stats.peak_active.fetch_max(now, Ordering::AcqRel);
            true
        }
    };
    if !admitted {
        stats.refused_busy.fetch_add(1, Ordering::Relaxed);
        return; // dropping `tcp` closes it
    }
    stats.accepted.fetch_add(1, Ordering::Relaxed);
    let slot = Slot {
        shared: shared.clone(),
        ip,
    };
    let spawned = thread::Builder::new()
        .name("nts-ke conn".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            let slot = slot;
            serve_one(tcp, &slot.shared);
        });
    // If the thread could not start, the closure (and its Slot) is dropped: released.
    let _ = spawned;
}

fn serve_one(mut tcp: TcpStream, shared: &Shared) {
    let stats = &shared.stats;
    let _ = tcp.set_nonblocking(false);
    let _ = tcp.set_nodelay(true);
    let Ok(config) = shared.config.read().map(|c| Arc::clone(&c)) else {
        return;
    };
    let Ok(server) = ServerConnection::new(config) else {
        return;
    };
    let mut conn = Connection::Server(server);
    // Caps what rustls buffers for sending; reading is bounded by its record size.
    conn.set_buffer_limit(Some(16 * 1024));

    let deadline = Instant::now() + shared.limits.handshake_timeout;
    if stream::handshake(&mut conn, &mut tcp, deadline).is_err()
        || conn.alpn_protocol() != Some(ALPN)
    {
        stats.failed_handshake.fetch_add(1, Ordering::Relaxed);
        return;
    }

    let deadline = Instant::now() + shared.limits.idle_timeout;
    let mut decoder = RecordDecoder::new();
    let mut request = RequestReader::new();
    let mut buf = [0u8; 512];
    let mut total = 0usize;
    let mut malformed = false;
    while !request.ended() && !malformed {
        let n = match stream::read_plain(&mut conn, &mut tcp, deadline, &mut buf) {
            Ok(0) => break, // closed early: finish() says Bad Request
            Ok(n) => n,
            Err(_) => {
                stats.failed_request.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        total += n;
        if total > MAX_REQUEST_BYTES {
            request.malformed();
            break;
        }
        let mut input = buf.get(..n).unwrap_or(&[]);
        while !input.is_empty() && !request.ended() {
            match decoder.feed(input) {
                Ok(Feed::NeedMore) => break,
                Ok(Feed::Ready { consumed }) => {
                    if let Some(r) = decoder.record() {
                        request.record(r);
                    }
                    input = input.get(consumed..).unwrap_or(&[]);
                }
                Err(_) => {
                    // The decoder stays failed: the request is decided.
                    request.malformed();
                    malformed = true;
                    break;
                }
            }
        }
    }

    let mut out = [0u8; 2048];
    let answer = match request.finish() {
        RequestOutcome::Accept => accept(&conn, shared, &mut out),
        RequestOutcome::NoProtocol => write_no_protocol(&mut out).ok(),
        RequestOutcome::NoAead => write_no_aead(&mut out).ok(),
        RequestOutcome::Error(code) => write_error(&mut out, code).ok(),
    };
    let Some(len) = answer.or_else(|| write_error(&mut out, ErrorCode::InternalServerError).ok())
    else {
        return;
    };
    if matches!(request.finish(), RequestOutcome::Accept) {
        stats.served.fetch_add(1, Ordering::Relaxed);
    } else {
        stats.refused_request.fetch_add(1, Ordering::Relaxed);
    }
    let _ = stream::write_plain(&mut conn, &mut tcp, deadline, out.get(..len).unwrap_or(&[]));
    conn.send_close_notify();
    let _ = stream::flush(&mut conn, &mut tcp, deadline);
}

/// Eight cookies sealed under the current master key, with the exported keys.
fn accept(conn: &Connection, shared: &Shared, out: &mut [u8]) -> Option<usize> {
    let keys = export_keys(conn).ok()?;
    let master = shared.keys.current();
    let mut cookies = [[0u8; COOKIE_LEN]; MAX_COOKIES];
    for c in cookies.iter_mut() {
        master.seal(&keys, &random_bytes::<16>(), c).ok()?;
    }
    write_accept(
        out,
        cookies.iter().map(|c| &c[..]),
        shared.ntp_server.as_deref(),
        shared.ntp_port,
    )
    .ok()
}

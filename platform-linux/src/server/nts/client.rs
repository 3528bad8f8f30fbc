//! The NTS-KE client: one blocking exchange ([`exchange`]) and the thread-per-KE
//! runner ([`KeClient`]) that keeps it off the poll loop, as name resolution is.
//!
//! An exchange: resolve, TCP connect (timeout), TLS 1.3 handshake with ALPN `ntske/1`
//! and the server name verified (timeout), `write_request`, the response through
//! [`ResponseReader`] (records may be split across TLS records in any way), the C2S and
//! S2C keys from the TLS exporter, a [`CookieJar`]. The negotiated NTP server and port
//! (Server and Port records) are honoured; without them NTP goes to the KE host on 123.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustls::client::ClientConfig;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, Connection};
use slew_core::nts::jar::CookieJar;
use slew_core::nts::ke::RecordDecoder;
use slew_core::nts::ke_msg::{
    exporter_context, write_request, Direction, ResponseReader, EXPORTER_LABEL,
};
use slew_core::nts::SessionKeys;

use super::error::KeFailure;
use super::stream;
use super::tls;
use crate::os::mailbox::Mailbox;

/// The NTP port used when the KE server names none.
pub const NTP_PORT: u16 = 123;
/// Longest response read, bytes: eight cookies of the longest kept size plus the
/// other records fit many times over; past it the server is not speaking NTS-KE.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024;

pub use crate::settings::nts::{KeRequest, KeTimeouts};

/// A successful NTS-KE.
#[derive(Debug)]
pub struct KeSuccess {
    /// Keys and cookies for NTS-protected NTP.
    pub jar: CookieJar,
    /// Where to send NTP: the negotiated server (or the KE host) and port (or 123).
    pub ntp_host: String,
    /// The NTP port.
    pub ntp_port: u16,
    /// The KE server's address that answered.
    pub ke_addr: SocketAddr,
    /// `ntp_host:ntp_port` resolved (in the exchange's thread, off the poll loop):
    /// the KE server's address when it named no other NTP server.
    pub ntp_addr: SocketAddr,
}

/// Does one NTS-KE, blocking, within the request's timeouts.
pub fn exchange(req: &KeRequest) -> Result<KeSuccess, KeFailure> {
    let config = tls::client_config(req.ca_file.as_deref())?;
    exchange_with(req, config)
}

/// [`exchange`] with a prepared TLS configuration.
pub fn exchange_with(req: &KeRequest, config: Arc<ClientConfig>) -> Result<KeSuccess, KeFailure> {
    let name = ServerName::try_from(req.host.clone())
        .map_err(|e| KeFailure::Resolve(format!("{} is not a host name: {e}", req.host)))?;
    let addrs: Vec<SocketAddr> = match req.addr {
        Some(ip) => vec![SocketAddr::new(ip, req.port)],
        None => (req.host.as_str(), req.port)
            .to_socket_addrs()
            .map_err(|e| KeFailure::Resolve(format!("cannot resolve {}: {e}", req.host)))?
            .collect(),
    };
    let mut last = KeFailure::Resolve(format!("{} has no address", req.host));
    let mut tcp = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, req.timeouts.connect) {
            Ok(s) => {
                tcp = Some((s, a));
                break;
            }
            Err(e) => last = KeFailure::from_io(&e, "connect"),
        }
    }
    let (mut tcp, ke_addr) = tcp.ok_or(last)?;
    let _ = tcp.set_nodelay(true);
    let client = ClientConnection::new(config, name).map_err(KeFailure::from)?;
    let mut conn = Connection::Client(client);

    let deadline = Instant::now() + req.timeouts.handshake;
    stream::handshake(&mut conn, &mut tcp, deadline)
        .map_err(|e| KeFailure::from_io(&e, "the TLS handshake"))?;
    if conn.alpn_protocol() != Some(slew_core::nts::ke_msg::ALPN) {
        return Err(KeFailure::Alpn);
    }

    let deadline = Instant::now() + req.timeouts.response;
    let mut out = [0u8; 64];
    let n = write_request(&mut out).map_err(|e| KeFailure::Other(format!("{e}")))?;
    stream::write_plain(&mut conn, &mut tcp, deadline, out.get(..n).unwrap_or(&[]))
        .map_err(|e| KeFailure::from_io(&e, "the request"))?;

    let mut decoder = RecordDecoder::new();
    let mut reader = ResponseReader::new();
    let mut buf = [0u8; 1024];
    let mut total = 0usize;
    loop {
        let n = stream::read_plain(&mut conn, &mut tcp, deadline, &mut buf)
            .map_err(|e| KeFailure::from_io(&e, "the response"))?;
        if n == 0 {
            break;
        }
        total += n;
        if total > MAX_RESPONSE_BYTES {
            return Err(KeFailure::Other(format!(
                "the response is longer than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        if reader.feed(&mut decoder, buf.get(..n).unwrap_or(&[]))? {
            break;
        }
    }
    let outcome = reader.finish()?;
    let keys = export_keys(&conn)?;
    // Polite close; the answer is already in hand.
    conn.send_close_notify();
    let _ = stream::flush(&mut conn, &mut tcp, deadline);

    let ntp_host = outcome
        .server
        .as_ref()
        .map_or_else(|| req.host.clone(), |s| s.as_str().to_string());
    let ntp_port = outcome.port.unwrap_or(NTP_PORT);
    let ntp_addr = ntp_address(&ntp_host, ntp_port, &req.host, ke_addr)?;
    Ok(KeSuccess {
        jar: CookieJar::new(keys, &outcome),
        ntp_host,
        ntp_port,
        ke_addr,
        ntp_addr,
    })
}

/// Where NTP goes after a KE with `ke_host` (answered from `ke_addr`): the same
/// machine when the server named no other (or named the KE host), else the named
/// server, resolved here.
fn ntp_address(
    ntp_host: &str,
    ntp_port: u16,
    ke_host: &str,
    ke_addr: SocketAddr,
) -> Result<SocketAddr, KeFailure> {
    if ntp_host == ke_host {
        return Ok(SocketAddr::new(ke_addr.ip(), ntp_port));
    }
    if let Ok(ip) = ntp_host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, ntp_port));
    }
    (ntp_host, ntp_port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            KeFailure::Resolve(format!(
                "cannot resolve the NTP server {ntp_host} the KE server named"
            ))
        })
}

/// The C2S and S2C keys of this TLS session (RFC 8915 §5.1); the server exports the
/// same two from its side.
pub fn export_keys(conn: &Connection) -> Result<SessionKeys, KeFailure> {
    let export = |d| {
        conn.export_keying_material(
            [0u8; 32],
            EXPORTER_LABEL.as_bytes(),
            Some(&exporter_context(d)),
        )
        .map_err(KeFailure::from)
    };
    let c2s = export(Direction::ClientToServer)?;
    let s2c = export(Direction::ServerToClient)?;
    Ok(SessionKeys::from_slices(&c2s, &s2c))
}

/// A finished exchange, as the loop receives it.
#[derive(Debug)]
pub struct KeDone {
    /// The id given to [`KeClient::spawn`] (e.g. the association's index).
    pub id: usize,
    /// The exchange's outcome.
    pub result: Result<KeSuccess, KeFailure>,
}

/// Runs NTS-KE exchanges on their own threads and hands the results back through a
/// [`Mailbox`] the poll loop drains without blocking ([`try_recv`](Self::try_recv)):
/// a finished exchange wakes the loop through [`poll_fd`](Self::poll_fd), so there is
/// no periodic wake-up.
#[derive(Debug, Default)]
pub struct KeClient {
    done: Mailbox<KeDone>,
}

impl KeClient {
    /// No exchange running.
    pub fn new() -> Self {
        Self::default()
    }

    /// Readable when an exchange finished: poll it with `POLLIN`, then call
    /// [`try_recv`](Self::try_recv) until it returns `None`.
    pub fn poll_fd(&self) -> Option<BorrowedFd<'_>> {
        self.done.poll_fd()
    }

    /// Starts one exchange on a thread. Its result arrives as a [`KeDone`] with `id`.
    /// The thread ends by the request's timeouts at the latest (plus name resolution).
    pub fn spawn(&self, id: usize, req: KeRequest) -> std::io::Result<()> {
        let done = self.done.poster();
        thread::Builder::new()
            .name(format!("nts-ke {}", req.host))
            .spawn(move || {
                let result = exchange(&req);
                done.post(KeDone { id, result });
            })
            .map(|_| ())
    }

    /// A finished exchange, if any; never blocks.
    pub fn try_recv(&self) -> Option<KeDone> {
        self.done.try_recv()
    }

    /// Waits up to `timeout` for a finished exchange (tests, slewctl-like tools).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<KeDone> {
        self.done.recv_timeout(timeout)
    }
}

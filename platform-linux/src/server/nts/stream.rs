//! Driving a rustls connection over a blocking TCP socket with one deadline for the
//! whole stage: every read and write gets the time left as its socket timeout, so a
//! peer that trickles bytes cannot stretch a stage past its deadline.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rustls::Connection;

fn arm(tcp: &TcpStream, deadline: Instant) -> io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::from(io::ErrorKind::TimedOut));
    }
    let left = left.max(Duration::from_millis(1));
    tcp.set_read_timeout(Some(left))?;
    tcp.set_write_timeout(Some(left))
}

/// Sends whatever TLS has queued.
pub fn flush(conn: &mut Connection, tcp: &mut TcpStream, deadline: Instant) -> io::Result<()> {
    while conn.wants_write() {
        arm(tcp, deadline)?;
        conn.write_tls(tcp)?;
    }
    Ok(())
}

/// Reads one chunk of TLS records and processes them. `Ok(0)`: the peer closed TCP.
fn read_some(conn: &mut Connection, tcp: &mut TcpStream, deadline: Instant) -> io::Result<usize> {
    arm(tcp, deadline)?;
    let n = conn.read_tls(tcp)?;
    if let Err(e) = conn.process_new_packets() {
        // Send our alert (it tells the peer why) before giving up; best effort.
        let _ = flush(conn, tcp, deadline);
        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
    }
    Ok(n)
}

/// Completes the TLS handshake by `deadline`.
pub fn handshake(conn: &mut Connection, tcp: &mut TcpStream, deadline: Instant) -> io::Result<()> {
    while conn.is_handshaking() {
        flush(conn, tcp, deadline)?;
        if !conn.is_handshaking() {
            break;
        }
        if read_some(conn, tcp, deadline)? == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
    }
    flush(conn, tcp, deadline)
}

/// Reads application data into `buf` by `deadline`. `Ok(0)`: the peer closed cleanly.
pub fn read_plain(
    conn: &mut Connection,
    tcp: &mut TcpStream,
    deadline: Instant,
    buf: &mut [u8],
) -> io::Result<usize> {
    loop {
        match conn.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                read_some(conn, tcp, deadline)?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Writes `data` as application data and sends it by `deadline`.
pub fn write_plain(
    conn: &mut Connection,
    tcp: &mut TcpStream,
    deadline: Instant,
    data: &[u8],
) -> io::Result<()> {
    conn.writer().write_all(data)?;
    flush(conn, tcp, deadline)
}

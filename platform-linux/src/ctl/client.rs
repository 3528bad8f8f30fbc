//! The client side of mode 6: build a request with slew-core's codec, send it, and
//! put the response back together from its fragments.
//!
//! Every wait is bounded: one overall deadline per request (the socket's read timeout
//! is the time left), at most [`MAX_FRAGMENTS`] fragments and [`MAX_DATAGRAMS`]
//! datagrams read per request, whatever arrives.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use slew_core::wire::control::{
    ControlPacket, ControlRepr, ErrorCode, Opcode, CONTROL_MAX_DATA, CONTROL_MAX_PACKET,
};

/// Fragments accepted in one response (ntpq's limit is 24).
pub const MAX_FRAGMENTS: usize = 32;

/// Datagrams read while waiting for one response (strays and duplicates included).
pub const MAX_DATAGRAMS: usize = 128;

/// The version slewctl sends: 2, as ntpq and ntpstat do, which every ntpd answers.
pub const REQUEST_VERSION: u8 = 2;

/// Why a query got no usable answer.
#[derive(Debug)]
pub enum CtlError {
    /// The server name did not resolve, or the socket failed.
    Io(io::Error),
    /// Nothing (complete) came back in time.
    Timeout,
    /// The server answered with an error code.
    Server(ErrorCode),
    /// The fragments did not fit together.
    BadResponse(&'static str),
}

impl fmt::Display for CtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtlError::Io(e) => write!(f, "{e}"),
            CtlError::Timeout => f.write_str(
                "no answer (is the daemon running, and does it allow queries from here?)",
            ),
            CtlError::Server(e) => write!(f, "the server refused the query: {}", e.name()),
            CtlError::BadResponse(why) => write!(f, "malformed response: {why}"),
        }
    }
}

impl std::error::Error for CtlError {}

impl From<io::Error> for CtlError {
    fn from(e: io::Error) -> Self {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            CtlError::Timeout
        } else {
            CtlError::Io(e)
        }
    }
}

/// A whole response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status word (system or peer, by request).
    pub status: u16,
    /// The leap bits of the first byte.
    pub leap: u8,
    /// The data, reassembled.
    pub data: Vec<u8>,
}

/// `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address; port 123 by default.
pub fn parse_server(text: &str) -> Result<SocketAddr, CtlError> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, 123));
    }
    let with_port = if text.contains(':') {
        text.to_string()
    } else {
        format!("{text}:123")
    };
    with_port
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| CtlError::Io(io::Error::other(format!("{text}: no address"))))
}

/// A mode 6 conversation with one server.
#[derive(Debug)]
pub struct ControlClient {
    socket: UdpSocket,
    server: SocketAddr,
    timeout: Duration,
    sequence: u16,
}

impl ControlClient {
    /// A client of `server`, waiting at most `timeout` for each response.
    pub fn new(server: SocketAddr, timeout: Duration) -> Result<Self, CtlError> {
        let local: SocketAddr = if server.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(server)?;
        // A sequence that differs between runs, so a late answer to an earlier
        // slewctl is not taken for ours.
        let sequence = (std::process::id() as u16).wrapping_mul(97).max(1);
        Ok(Self {
            socket,
            server,
            timeout,
            sequence,
        })
    }

    /// The server asked.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// READSTAT on association 0: the system status word and the (association id,
    /// peer status word) pairs.
    pub fn associations(&mut self) -> Result<(u16, Vec<(u16, u16)>), CtlError> {
        let r = self.request(Opcode::ReadStat, 0, b"")?;
        let pairs = r
            .data
            .chunks_exact(4)
            .map(|c| {
                let id = u16::from_be_bytes([c[0], c[1]]);
                let st = u16::from_be_bytes([c[2], c[3]]);
                (id, st)
            })
            .collect();
        Ok((r.status, pairs))
    }

    /// READVAR on `association` (0: the system) for `names` (empty: the default
    /// list); the status word and the variables in the order sent.
    pub fn read_vars(
        &mut self,
        association: u16,
        names: &[&str],
    ) -> Result<(Response, Vec<(String, String)>), CtlError> {
        let list = names.join(",");
        let r = self.request(Opcode::ReadVar, association, list.as_bytes())?;
        let vars = parse_vars(&r.data);
        Ok((r, vars))
    }

    /// Sends one request and returns the reassembled response.
    pub fn request(
        &mut self,
        opcode: Opcode,
        association: u16,
        data: &[u8],
    ) -> Result<Response, CtlError> {
        if data.len() > CONTROL_MAX_DATA {
            return Err(CtlError::BadResponse("request too long"));
        }
        self.sequence = self.sequence.wrapping_add(1).max(1);
        let repr = ControlRepr {
            leap: 0,
            version: REQUEST_VERSION,
            response: false,
            error: false,
            more: false,
            opcode,
            sequence: self.sequence,
            status: 0,
            association_id: association,
            offset: 0,
            data,
        };
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut ControlPacket::new_unchecked(&mut out[..]));
        self.socket.send(&out)?;
        let deadline = Instant::now() + self.timeout;
        let mut asm = Reassembly::new(opcode, self.sequence, association);
        let mut buf = [0u8; CONTROL_MAX_PACKET + 64];
        for _ in 0..MAX_DATAGRAMS {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CtlError::Timeout);
            }
            self.socket.set_read_timeout(Some(left))?;
            let n = self.socket.recv(&mut buf)?;
            if let Some(done) = asm.add(buf.get(..n).unwrap_or_default())? {
                return Ok(done);
            }
        }
        Err(CtlError::Timeout)
    }
}

/// Collects the fragments of one response.
#[derive(Debug)]
pub struct Reassembly {
    opcode: Opcode,
    sequence: u16,
    association: u16,
    /// (offset, data) of each fragment received.
    fragments: Vec<(usize, Vec<u8>)>,
    /// The end of the response, once the last fragment came.
    end: Option<usize>,
    status: u16,
    leap: u8,
}

impl Reassembly {
    /// Waiting for the answer to this request.
    pub fn new(opcode: Opcode, sequence: u16, association: u16) -> Self {
        Self {
            opcode,
            sequence,
            association,
            fragments: Vec::new(),
            end: None,
            status: 0,
            leap: 0,
        }
    }

    /// Takes one datagram: `Ok(Some)` when the response is complete, `Ok(None)` to
    /// wait for more (strays are ignored), `Err` for an error answer.
    pub fn add(&mut self, datagram: &[u8]) -> Result<Option<Response>, CtlError> {
        let Ok(p) = ControlPacket::new_checked(datagram) else {
            return Ok(None);
        };
        if !p.is_response()
            || p.sequence() != self.sequence
            || p.opcode() != self.opcode
            || p.association_id() != self.association
        {
            return Ok(None);
        }
        if p.is_error() {
            return Err(CtlError::Server(ErrorCode::from_bits(
                (p.status() >> 8) as u8,
            )));
        }
        let offset = usize::from(p.offset());
        let data = p.data().to_vec();
        let end = offset + data.len();
        if self.fragments.iter().any(|(o, _)| *o == offset) {
            return Ok(None); // a duplicate
        }
        if self.fragments.len() >= MAX_FRAGMENTS {
            return Err(CtlError::BadResponse("too many fragments"));
        }
        self.status = p.status();
        self.leap = p.leap();
        if !p.more() {
            self.end = Some(end);
        }
        self.fragments.push((offset, data));
        let Some(total) = self.end else {
            return Ok(None);
        };
        self.fragments.sort_by_key(|(o, _)| *o);
        let mut covered = 0;
        for (o, d) in &self.fragments {
            if *o != covered {
                return Ok(None); // a gap (or an overlap): wait for the rest
            }
            covered += d.len();
        }
        if covered != total {
            return Ok(None);
        }
        let data = self
            .fragments
            .iter()
            .flat_map(|(_, d)| d.iter().copied())
            .collect();
        Ok(Some(Response {
            status: self.status,
            leap: self.leap,
            data,
        }))
    }
}

/// Parses ntpd's `name=value, name="text",\r\n…` list into pairs, quotes removed.
pub fn parse_vars(data: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut item = String::new();
    let mut quoted = false;
    let mut push = |item: &mut String| {
        let t = item.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        if !t.is_empty() {
            let (name, value) = t.split_once('=').unwrap_or((t, ""));
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            out.push((name.trim().to_string(), value.to_string()));
        }
        item.clear();
    };
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                item.push(c);
            }
            ',' if !quoted => push(&mut item),
            _ => item.push(c),
        }
    }
    push(&mut item);
    out
}

/// Looks a variable up by name.
pub fn var<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
    vars.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A number variable.
pub fn var_f64(vars: &[(String, String)], name: &str) -> Option<f64> {
    var(vars, name).and_then(|v| v.parse().ok())
}

/// An integer variable, decimal or `0x` hex.
pub fn var_i64(vars: &[(String, String)], name: &str) -> Option<i64> {
    let v = var(vars, name)?;
    match v.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// An NTP timestamp variable (`0xSSSSSSSS.FFFFFFFF`), as seconds since 1900.
pub fn var_ntp_seconds(vars: &[(String, String)], name: &str) -> Option<f64> {
    let v = var(vars, name)?.strip_prefix("0x")?;
    let (s, f) = v.split_once('.').unwrap_or((v, "0"));
    let s = u32::from_str_radix(s.get(..8.min(s.len()))?, 16).ok()?;
    let f = u32::from_str_radix(f.get(..8.min(f.len()))?, 16).ok()?;
    if s == 0 && f == 0 {
        return None;
    }
    Some(f64::from(s) + f64::from(f) / 4_294_967_296.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fragment(seq: u16, more: bool, offset: u16, data: &[u8]) -> Vec<u8> {
        let repr = ControlRepr {
            leap: 0,
            version: 2,
            response: true,
            error: false,
            more,
            opcode: Opcode::ReadVar,
            sequence: seq,
            status: 0x0615,
            association_id: 0,
            offset,
            data,
        };
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut ControlPacket::new_unchecked(&mut out[..]));
        out
    }

    #[test]
    fn fragments_in_any_order_with_duplicates_and_strays() {
        let mut a = Reassembly::new(Opcode::ReadVar, 7, 0);
        assert!(a.add(&fragment(7, false, 4, b"defg")).unwrap().is_none());
        assert!(
            a.add(&fragment(6, true, 0, b"xxxx")).unwrap().is_none(),
            "old sequence"
        );
        assert!(
            a.add(&fragment(7, false, 4, b"defg")).unwrap().is_none(),
            "duplicate"
        );
        assert!(a.add(b"garbage").unwrap().is_none());
        let done = a.add(&fragment(7, true, 0, b"abcd")).unwrap().unwrap();
        assert_eq!(done.data, b"abcddefg");
        assert_eq!(done.status, 0x0615);
    }

    #[test]
    fn error_answers_name_the_code() {
        let mut a = Reassembly::new(Opcode::ReadVar, 1, 0);
        let mut e = fragment(1, false, 0, b"");
        e[1] |= 0x40;
        e[4] = 5;
        match a.add(&e) {
            Err(CtlError::Server(code)) => assert_eq!(code, ErrorCode::UnknownVariable),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn variable_lists_with_quotes_and_line_breaks() {
        let v = parse_vars(b"version=\"slew 0.1.0, x\", leap=00,\r\nstratum=11, refid=LOCL, reach=0x7f, reason=\"\"\r\n");
        assert_eq!(var(&v, "version"), Some("slew 0.1.0, x"));
        assert_eq!(var(&v, "stratum"), Some("11"));
        assert_eq!(var_i64(&v, "reach"), Some(0x7f));
        assert_eq!(var(&v, "reason"), Some(""));
        assert_eq!(v.len(), 6);
    }

    #[test]
    fn timestamps_and_servers() {
        let v = parse_vars(b"rec=0xeeb7a614.80000000, reftime=0x00000000.00000000");
        assert_eq!(var_ntp_seconds(&v, "rec"), Some(4_005_013_012.5));
        assert_eq!(var_ntp_seconds(&v, "reftime"), None);
        assert_eq!(parse_server("127.0.0.1").unwrap().port(), 123);
        assert_eq!(parse_server("127.0.0.1:12300").unwrap().port(), 12300);
        assert_eq!(parse_server("::1").unwrap().port(), 123);
        assert_eq!(parse_server("[::1]:5").unwrap().port(), 5);
    }
}

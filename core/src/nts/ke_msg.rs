//! NTS-KE messages on top of the [records](super::ke): the client's request and
//! what it makes of the response ([`ResponseReader`]), the server's reading of a
//! request ([`RequestReader`]) and its answer ([`write_accept`], [`write_error`]).
//!
//! The rules (RFC 8915 §4.1) and where slew follows chrony's reading of them:
//!
//! - A request holds exactly one Next Protocol record and, when it offers NTPv4,
//!   exactly one AEAD record, each with at least one id; else Error 1 (Bad Request).
//!   Error, Warning and New Cookie records in a request are Bad Request too; an
//!   unknown critical record is Error 0. Unknown non-critical records are ignored.
//! - The server answers with the one protocol and AEAD it picked, up to eight New
//!   Cookie records (§4.1.6: "SHOULD" send eight), optional Server and Port records,
//!   End of Message. No acceptable protocol: an empty Next Protocol record; no
//!   acceptable AEAD: an empty AEAD record (§4.1.2, §4.1.5); no cookies either way.
//! - The client accepts a response only with Next Protocol \[0\], AEAD \[15\] and at least
//!   one cookie, and refuses it on any Error or Warning record (no warning codes are
//!   defined, so every one is unrecognised) or unknown critical record.

use heapless::{String, Vec};

use super::aead::AEAD_AES_SIV_CMAC_256;
use super::ke::{
    emit_ids, record_type, ErrorCode, Feed, KeError, Record, RecordDecoder, CRITICAL,
    PROTOCOL_NTPV4,
};

/// Cookies per NTS-KE response and per client (RFC 8915 §4.1.6, §5.7).
pub const MAX_COOKIES: usize = 8;
/// Longest cookie kept, bytes (chrony's limit; slew's own cookies are 104).
pub const MAX_COOKIE_LEN: usize = 256;
/// Longest negotiated server name, bytes.
pub const MAX_SERVER_NAME_LEN: usize = 255;
/// ALPN protocol id of NTS-KE (RFC 8915 §4).
pub const ALPN: &[u8] = b"ntske/1";
/// TCP port of NTS-KE (RFC 8915 §6).
pub const KE_PORT: u16 = 4460;
/// TLS exporter label for the C2S and S2C keys (RFC 8915 §5.1).
pub const EXPORTER_LABEL: &str = "EXPORTER-network-time-security";

/// A cookie as issued by a server: opaque bytes.
pub type Cookie = Vec<u8, MAX_COOKIE_LEN>;

/// Which of the two exported keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server: authenticates requests.
    ClientToServer,
    /// Server to client: authenticates responses.
    ServerToClient,
}

/// The TLS exporter context for NTPv4 with AES-SIV-CMAC-256 (RFC 8915 §5.1): protocol
/// id (u16), AEAD id (u16), then 0x00 for C2S or 0x01 for S2C. Export 32 bytes each.
pub const fn exporter_context(direction: Direction) -> [u8; 5] {
    let [p0, p1] = PROTOCOL_NTPV4.to_be_bytes();
    let [a0, a1] = AEAD_AES_SIV_CMAC_256.to_be_bytes();
    let d = match direction {
        Direction::ClientToServer => 0,
        Direction::ServerToClient => 1,
    };
    [p0, p1, a0, a1, d]
}

/// Why an NTS-KE exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NegotiationError {
    /// A malformed record.
    Record(KeError),
    /// The server sent an Error record.
    ServerError(ErrorCode),
    /// The server sent a Warning record (treated as an error: none are defined).
    Warning(u16),
    /// An unknown record with the critical bit.
    UnrecognizedCritical(u16),
    /// The response's Next Protocol is not exactly \[NTPv4\] (or is missing).
    NextProtocol,
    /// The response's AEAD is not exactly \[AES-SIV-CMAC-256\] (or is missing).
    Aead,
    /// The same record type twice where once is the rule.
    Duplicate(u16),
    /// No (usable) cookie in the response.
    NoCookies,
    /// The message ended without End of Message.
    Incomplete,
}

impl From<KeError> for NegotiationError {
    fn from(e: KeError) -> Self {
        NegotiationError::Record(e)
    }
}

/// Writes the client's request: Next Protocol \[NTPv4\], AEAD \[AES-SIV-CMAC-256\] (both
/// critical, as chrony and ntpsec send them), End of Message.
pub fn write_request(out: &mut [u8]) -> Result<usize, KeError> {
    let mut n = emit_ids(
        CRITICAL | record_type::NEXT_PROTOCOL,
        &[PROTOCOL_NTPV4],
        out,
    )?;
    n += emit_ids(
        CRITICAL | record_type::AEAD_ALGORITHM,
        &[AEAD_AES_SIV_CMAC_256],
        out.get_mut(n..).ok_or(KeError::BufferTooSmall)?,
    )?;
    n += Record::EndOfMessage.emit(out.get_mut(n..).ok_or(KeError::BufferTooSmall)?)?;
    Ok(n)
}

/// What the client learned from a successful exchange. Export the C2S/S2C keys from
/// the same TLS session with [`exporter_context`] and hand both to the cookie jar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeOutcome {
    /// The cookies, in the order received.
    pub cookies: Vec<Cookie, MAX_COOKIES>,
    /// The NTP server to use instead of the NTS-KE host, if the server said.
    pub server: Option<String<MAX_SERVER_NAME_LEN>>,
    /// The NTP port to use instead of 123, if the server said.
    pub port: Option<u16>,
}

/// Collects a server's NTS-KE response, record by record (client side).
#[derive(Debug, Clone)]
pub struct ResponseReader {
    outcome: KeOutcome,
    protocol: Option<bool>,
    aead: Option<bool>,
    ended: bool,
    failed: Option<NegotiationError>,
}

impl Default for ResponseReader {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseReader {
    /// Nothing read yet.
    pub const fn new() -> Self {
        ResponseReader {
            outcome: KeOutcome {
                cookies: Vec::new(),
                server: None,
                port: None,
            },
            protocol: None,
            aead: None,
            ended: false,
            failed: None,
        }
    }

    /// Takes one record.
    pub fn record(&mut self, record: Record<'_>) -> Result<(), NegotiationError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let r = self.take(record);
        if let Err(e) = r {
            self.failed = Some(e);
        }
        r
    }

    fn take(&mut self, record: Record<'_>) -> Result<(), NegotiationError> {
        match record {
            Record::EndOfMessage => self.ended = true,
            Record::NextProtocol(ids) => {
                if self.protocol.replace(true).is_some() {
                    return Err(NegotiationError::Duplicate(record_type::NEXT_PROTOCOL));
                }
                if ids.len() != 1 || !ids.contains(PROTOCOL_NTPV4) {
                    return Err(NegotiationError::NextProtocol);
                }
            }
            Record::Aead { ids, .. } => {
                if self.aead.replace(true).is_some() {
                    return Err(NegotiationError::Duplicate(record_type::AEAD_ALGORITHM));
                }
                if ids.len() != 1 || !ids.contains(AEAD_AES_SIV_CMAC_256) {
                    return Err(NegotiationError::Aead);
                }
            }
            Record::Error(code) => return Err(NegotiationError::ServerError(code)),
            Record::Warning(code) => return Err(NegotiationError::Warning(code)),
            Record::NewCookie { cookie: body, .. } => {
                // Oversized cookies and the ninth and later are skipped, as chrony does.
                if let Ok(cookie) = Cookie::from_slice(body) {
                    let _ = self.outcome.cookies.push(cookie);
                }
            }
            Record::Server { name, .. } => {
                if self.outcome.server.is_some() {
                    return Err(NegotiationError::Duplicate(record_type::SERVER));
                }
                let mut s = String::new();
                s.push_str(name)
                    .map_err(|()| NegotiationError::Record(KeError::BadServerName))?;
                self.outcome.server = Some(s);
            }
            Record::Port { port, .. } => {
                if self.outcome.port.replace(port).is_some() {
                    return Err(NegotiationError::Duplicate(record_type::PORT));
                }
            }
            Record::Unknown {
                record_type,
                critical,
                ..
            } => {
                if critical {
                    return Err(NegotiationError::UnrecognizedCritical(record_type));
                }
            }
        }
        Ok(())
    }

    /// Feeds TLS plaintext through `decoder` into this reader. Returns true once End
    /// of Message has been read.
    pub fn feed(
        &mut self,
        decoder: &mut RecordDecoder,
        mut input: &[u8],
    ) -> Result<bool, NegotiationError> {
        loop {
            match decoder.feed(input)? {
                Feed::NeedMore => return Ok(self.ended),
                Feed::Ready { consumed } => {
                    if let Some(record) = decoder.record() {
                        self.record(record)?;
                    }
                    input = input.get(consumed..).unwrap_or(&[]);
                    if input.is_empty() && self.ended {
                        return Ok(true);
                    }
                }
            }
        }
    }

    /// The outcome, once End of Message has been read.
    pub fn finish(self) -> Result<KeOutcome, NegotiationError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if !self.ended {
            return Err(NegotiationError::Incomplete);
        }
        if self.protocol.is_none() {
            return Err(NegotiationError::NextProtocol);
        }
        if self.aead.is_none() {
            return Err(NegotiationError::Aead);
        }
        if self.outcome.cookies.is_empty() {
            return Err(NegotiationError::NoCookies);
        }
        Ok(self.outcome)
    }
}

/// What the server makes of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// NTPv4 with AES-SIV-CMAC-256: export the keys, answer with [`write_accept`].
    Accept,
    /// The client offers no protocol we speak: answer with [`write_no_protocol`].
    NoProtocol,
    /// NTPv4, but no AEAD we support: answer with [`write_no_aead`].
    NoAead,
    /// Answer with [`write_error`] and this code.
    Error(ErrorCode),
}

/// Collects a client's NTS-KE request, record by record (server side).
#[derive(Debug, Clone, Default)]
pub struct RequestReader {
    protocol_records: u8,
    ntpv4: bool,
    aead_records: u8,
    siv: bool,
    ended: bool,
    error: Option<ErrorCode>,
}

impl RequestReader {
    /// Nothing read yet.
    pub const fn new() -> Self {
        RequestReader {
            protocol_records: 0,
            ntpv4: false,
            aead_records: 0,
            siv: false,
            ended: false,
            error: None,
        }
    }

    /// Takes one record. The first error sticks (it decides the answer).
    pub fn record(&mut self, record: Record<'_>) {
        if self.error.is_some() {
            return;
        }
        match record {
            Record::EndOfMessage => self.ended = true,
            Record::NextProtocol(ids) => {
                self.protocol_records = self.protocol_records.saturating_add(1);
                if ids.is_empty() {
                    self.error = Some(ErrorCode::BadRequest);
                }
                self.ntpv4 |= ids.contains(PROTOCOL_NTPV4);
            }
            Record::Aead { ids, .. } => {
                self.aead_records = self.aead_records.saturating_add(1);
                if ids.is_empty() {
                    self.error = Some(ErrorCode::BadRequest);
                }
                self.siv |= ids.contains(AEAD_AES_SIV_CMAC_256);
            }
            Record::Error(_) | Record::Warning(_) | Record::NewCookie { .. } => {
                self.error = Some(ErrorCode::BadRequest);
            }
            Record::Server { .. } | Record::Port { .. } => {}
            Record::Unknown { critical, .. } => {
                if critical {
                    self.error = Some(ErrorCode::UnrecognizedCritical);
                }
            }
        }
    }

    /// Takes a malformed record: Bad Request.
    pub fn malformed(&mut self) {
        if self.error.is_none() {
            self.error = Some(ErrorCode::BadRequest);
        }
    }

    /// True once End of Message has been read.
    pub const fn ended(&self) -> bool {
        self.ended
    }

    /// The decision, once the request is complete (or the connection closed early:
    /// then it is Bad Request).
    pub fn finish(&self) -> RequestOutcome {
        if let Some(code) = self.error {
            return RequestOutcome::Error(code);
        }
        if !self.ended || self.protocol_records != 1 || (self.ntpv4 && self.aead_records != 1) {
            return RequestOutcome::Error(ErrorCode::BadRequest);
        }
        match (self.ntpv4, self.siv) {
            (false, _) => RequestOutcome::NoProtocol,
            (true, false) => RequestOutcome::NoAead,
            (true, true) => RequestOutcome::Accept,
        }
    }
}

/// A byte-offset writer over an output buffer.
struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Out<'_> {
    fn put(&mut self, r: Record<'_>) -> Result<(), KeError> {
        let n = r.emit(
            self.buf
                .get_mut(self.len..)
                .ok_or(KeError::BufferTooSmall)?,
        )?;
        self.len += n;
        Ok(())
    }

    fn ids(&mut self, type_word: u16, ids: &[u16]) -> Result<(), KeError> {
        let n = emit_ids(
            type_word,
            ids,
            self.buf
                .get_mut(self.len..)
                .ok_or(KeError::BufferTooSmall)?,
        )?;
        self.len += n;
        Ok(())
    }
}

/// Writes the server's acceptance: Next Protocol \[NTPv4\], AEAD \[AES-SIV-CMAC-256\],
/// one New Cookie per cookie (at most [`MAX_COOKIES`] are written), the optional
/// Server and Port records, End of Message.
pub fn write_accept<'c>(
    out: &mut [u8],
    cookies: impl IntoIterator<Item = &'c [u8]>,
    server: Option<&str>,
    port: Option<u16>,
) -> Result<usize, KeError> {
    let mut o = Out { buf: out, len: 0 };
    o.ids(CRITICAL | record_type::NEXT_PROTOCOL, &[PROTOCOL_NTPV4])?;
    o.ids(
        CRITICAL | record_type::AEAD_ALGORITHM,
        &[AEAD_AES_SIV_CMAC_256],
    )?;
    for cookie in cookies.into_iter().take(MAX_COOKIES) {
        o.put(Record::NewCookie {
            cookie,
            critical: false,
        })?;
    }
    if let Some(name) = server {
        o.put(Record::Server {
            name,
            critical: true,
        })?;
    }
    if let Some(port) = port {
        o.put(Record::Port {
            port,
            critical: true,
        })?;
    }
    o.put(Record::EndOfMessage)?;
    Ok(o.len)
}

/// Writes "no protocol in common": an empty Next Protocol record, End of Message.
pub fn write_no_protocol(out: &mut [u8]) -> Result<usize, KeError> {
    let mut o = Out { buf: out, len: 0 };
    o.ids(CRITICAL | record_type::NEXT_PROTOCOL, &[])?;
    o.put(Record::EndOfMessage)?;
    Ok(o.len)
}

/// Writes "NTPv4, but no AEAD in common": Next Protocol \[NTPv4\], an empty AEAD record,
/// End of Message.
pub fn write_no_aead(out: &mut [u8]) -> Result<usize, KeError> {
    let mut o = Out { buf: out, len: 0 };
    o.ids(CRITICAL | record_type::NEXT_PROTOCOL, &[PROTOCOL_NTPV4])?;
    o.ids(CRITICAL | record_type::AEAD_ALGORITHM, &[])?;
    o.put(Record::EndOfMessage)?;
    Ok(o.len)
}

/// Writes an Error record with `code`, then End of Message.
pub fn write_error(out: &mut [u8], code: ErrorCode) -> Result<usize, KeError> {
    let mut o = Out { buf: out, len: 0 };
    o.put(Record::Error(code))?;
    o.put(Record::EndOfMessage)?;
    Ok(o.len)
}

#[cfg(test)]
mod tests {
    use super::super::ke::parse_record;
    use super::*;

    fn read_request(bytes: &[u8]) -> RequestOutcome {
        let mut r = RequestReader::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            match parse_record(rest) {
                Ok((rec, after)) => {
                    r.record(rec);
                    rest = after;
                }
                Err(_) => {
                    r.malformed();
                    break;
                }
            }
        }
        r.finish()
    }

    fn read_response(bytes: &[u8]) -> Result<KeOutcome, NegotiationError> {
        let mut d = RecordDecoder::new();
        let mut r = ResponseReader::new();
        r.feed(&mut d, bytes)?;
        r.finish()
    }

    #[test]
    fn exporter_contexts() {
        assert_eq!(
            exporter_context(Direction::ClientToServer),
            [0, 0, 0, 15, 0]
        );
        assert_eq!(
            exporter_context(Direction::ServerToClient),
            [0, 0, 0, 15, 1]
        );
    }

    #[test]
    fn request_golden_and_accepted() {
        let mut out = [0u8; 64];
        let n = write_request(&mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[0x80, 1, 0, 2, 0, 0, 0x80, 4, 0, 2, 0, 15, 0x80, 0, 0, 0]
        );
        assert_eq!(read_request(&out[..n]), RequestOutcome::Accept);
    }

    #[test]
    fn request_rules() {
        use ErrorCode::*;
        let np = |ids: &[u8]| [&[0x80, 1, 0, ids.len() as u8][..], ids].concat();
        let aead = |ids: &[u8]| [&[0x80, 4, 0, ids.len() as u8][..], ids].concat();
        let eom = [0x80, 0, 0, 0];
        let cases: &[(std::vec::Vec<u8>, RequestOutcome)] = &[
            (
                [np(&[0, 0]), aead(&[0, 15]), eom.to_vec()].concat(),
                RequestOutcome::Accept,
            ),
            (
                [np(&[0, 9, 0, 0]), aead(&[0, 30, 0, 15]), eom.to_vec()].concat(),
                RequestOutcome::Accept,
            ),
            (
                [np(&[0, 9]), eom.to_vec()].concat(),
                RequestOutcome::NoProtocol,
            ),
            (
                [np(&[0, 0]), aead(&[0, 30]), eom.to_vec()].concat(),
                RequestOutcome::NoAead,
            ),
            (
                [np(&[0, 0]), eom.to_vec()].concat(),
                RequestOutcome::Error(BadRequest),
            ),
            (
                [np(&[0, 0]), np(&[0, 0]), aead(&[0, 15]), eom.to_vec()].concat(),
                RequestOutcome::Error(BadRequest),
            ),
            (
                [np(&[]), aead(&[0, 15]), eom.to_vec()].concat(),
                RequestOutcome::Error(BadRequest),
            ),
            (
                [np(&[0, 0]), aead(&[0, 15])].concat(),
                RequestOutcome::Error(BadRequest),
            ),
            (
                [&[0xc0, 0x00, 0, 0][..], &np(&[0, 0]), &aead(&[0, 15]), &eom].concat(),
                RequestOutcome::Error(UnrecognizedCritical),
            ),
            (
                [&[0x40, 0x00, 0, 0][..], &np(&[0, 0]), &aead(&[0, 15]), &eom].concat(),
                RequestOutcome::Accept,
            ),
            (
                [
                    np(&[0, 0]),
                    aead(&[0, 15]),
                    std::vec![0, 5, 0, 1, 7],
                    eom.to_vec(),
                ]
                .concat(),
                RequestOutcome::Error(BadRequest),
            ),
            (
                [np(&[0, 0, 0]), aead(&[0, 15]), eom.to_vec()].concat(),
                RequestOutcome::Error(BadRequest),
            ),
        ];
        for (bytes, expect) in cases {
            assert_eq!(read_request(bytes), *expect, "{bytes:?}");
        }
    }

    #[test]
    fn accept_round_trip_and_response_rules() {
        let mut out = [0u8; 2048];
        let cookies = [[1u8; 104], [2; 104], [3; 104]];
        let n = write_accept(
            &mut out,
            cookies.iter().map(|c| &c[..]),
            Some("ntp.example"),
            Some(1123),
        )
        .unwrap();
        let got = read_response(&out[..n]).unwrap();
        assert_eq!(got.cookies.len(), 3);
        assert_eq!(&got.cookies[2][..], &[3; 104]);
        assert_eq!(got.server.as_deref(), Some("ntp.example"));
        assert_eq!(got.port, Some(1123));

        // Nine cookies offered: eight written.
        let many = [[9u8; 8]; 9];
        let n = write_accept(&mut out, many.iter().map(|c| &c[..]), None, None).unwrap();
        assert_eq!(read_response(&out[..n]).unwrap().cookies.len(), MAX_COOKIES);

        let n = write_no_protocol(&mut out).unwrap();
        assert_eq!(
            read_response(&out[..n]),
            Err(NegotiationError::NextProtocol)
        );
        let n = write_no_aead(&mut out).unwrap();
        assert_eq!(read_response(&out[..n]), Err(NegotiationError::Aead));
        let n = write_error(&mut out, ErrorCode::InternalServerError).unwrap();
        assert_eq!(&out[..n], &[0x80, 2, 0, 2, 0, 2, 0x80, 0, 0, 0]);
        assert_eq!(
            read_response(&out[..n]),
            Err(NegotiationError::ServerError(
                ErrorCode::InternalServerError
            ))
        );
        let n = write_accept(&mut out, [], None, None).unwrap();
        assert_eq!(read_response(&out[..n]), Err(NegotiationError::NoCookies));
        let n = write_accept(&mut out, [&[1u8; 8][..]], None, None).unwrap();
        assert_eq!(
            read_response(&out[..n - 4]),
            Err(NegotiationError::Incomplete)
        );
        // A warning, a critical unknown record, an oversized cookie (skipped).
        let with = |extra: &[u8]| {
            let mut v = std::vec::Vec::from(&out[..n - 4]);
            v.extend_from_slice(extra);
            v.extend_from_slice(&[0x80, 0, 0, 0]);
            read_response(&v)
        };
        assert_eq!(
            with(&[0x80, 3, 0, 2, 0, 1]),
            Err(NegotiationError::Warning(1))
        );
        assert_eq!(
            with(&[0x80, 0x77, 0, 0]),
            Err(NegotiationError::UnrecognizedCritical(0x77))
        );
        assert!(with(&[0x00, 0x77, 0, 0]).is_ok());
        let mut big = std::vec![0, 5, 1, 4];
        big.extend([0; 260]);
        assert_eq!(with(&big).unwrap().cookies.len(), 1);
        assert_eq!(
            with(&[0x80, 7, 0, 2, 0, 1, 0x80, 7, 0, 2, 0, 1]),
            Err(NegotiationError::Duplicate(record_type::PORT))
        );
    }
}

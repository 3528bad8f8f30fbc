//! NTS-KE records (RFC 8915 §4): pure encode/decode over byte slices, and
//! [`RecordDecoder`], which takes the TLS stream in chunks of any size (a record may
//! straddle TLS records, or arrive a byte at a time).
//!
//! A record is a critical bit, a 15-bit type, a 16-bit body length and the body:
//!
//! | type | record (RFC 8915) | body |
//! |---|---|---|
//! | 0 | End of Message (§4.1.1) | empty; critical |
//! | 1 | NTS Next Protocol Negotiation (§4.1.2) | u16 protocol ids (0 = NTPv4); critical |
//! | 2 | Error (§4.1.3) | u16 code; critical |
//! | 3 | Warning (§4.1.4) | u16 code; critical |
//! | 4 | AEAD Algorithm Negotiation (§4.1.5) | u16 AEAD ids (15 = AES-SIV-CMAC-256) |
//! | 5 | New Cookie for NTPv4 (§4.1.6) | one cookie |
//! | 6 | NTPv4 Server Negotiation (§4.1.7) | ASCII host name or address |
//! | 7 | NTPv4 Port Negotiation (§4.1.8) | u16 port |

use core::fmt;

/// Length of a record's type and length words, bytes.
pub const RECORD_HEADER_LEN: usize = 4;
/// The critical bit of the first type word.
pub const CRITICAL: u16 = 0x8000;
/// Longest record body [`RecordDecoder`] holds, bytes: a cookie (≤ 256 in practice), a
/// host name (≤ 255) or a list of ids fit with room to spare. Longer records are
/// refused ([`KeError::RecordTooLong`]) rather than buffered.
pub const MAX_RECORD_BODY: usize = 1024;

/// Record types (RFC 8915 §7.6, "Network Time Security Key Establishment Record Types").
pub mod record_type {
    /// End of Message.
    pub const END_OF_MESSAGE: u16 = 0;
    /// NTS Next Protocol Negotiation.
    pub const NEXT_PROTOCOL: u16 = 1;
    /// Error.
    pub const ERROR: u16 = 2;
    /// Warning.
    pub const WARNING: u16 = 3;
    /// AEAD Algorithm Negotiation.
    pub const AEAD_ALGORITHM: u16 = 4;
    /// New Cookie for NTPv4.
    pub const NEW_COOKIE: u16 = 5;
    /// NTPv4 Server Negotiation.
    pub const SERVER: u16 = 6;
    /// NTPv4 Port Negotiation.
    pub const PORT: u16 = 7;
}

/// NTS next protocol id of NTPv4 (RFC 8915 §7.7).
pub const PROTOCOL_NTPV4: u16 = 0;

/// Error codes of the Error record (RFC 8915 §4.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 0: the peer sent a critical record this side does not know.
    UnrecognizedCritical,
    /// 1: malformed or unacceptable request.
    BadRequest,
    /// 2: the server could not process the request.
    InternalServerError,
    /// Any other code.
    Other(u16),
}

impl ErrorCode {
    /// The code from its wire value.
    pub const fn from_u16(code: u16) -> Self {
        match code {
            0 => ErrorCode::UnrecognizedCritical,
            1 => ErrorCode::BadRequest,
            2 => ErrorCode::InternalServerError,
            other => ErrorCode::Other(other),
        }
    }

    /// The wire value.
    pub const fn to_u16(self) -> u16 {
        match self {
            ErrorCode::UnrecognizedCritical => 0,
            ErrorCode::BadRequest => 1,
            ErrorCode::InternalServerError => 2,
            ErrorCode::Other(code) => code,
        }
    }
}

/// Why bytes are not an acceptable NTS-KE record or message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeError {
    /// The bytes end inside a record (only from [`parse_record`]; the decoder waits).
    Truncated,
    /// A body longer than [`MAX_RECORD_BODY`]; the value is its declared length.
    RecordTooLong(u16),
    /// A body whose length does not suit its type (odd id list, End of Message with a
    /// body, Error/Warning/Port not 2 bytes, empty cookie).
    BadBodyLength {
        /// The record type.
        record_type: u16,
        /// The body length found.
        len: u16,
    },
    /// A server name that is empty or not printable ASCII without spaces.
    BadServerName,
    /// A record that RFC 8915 says is critical without the critical bit (End of
    /// Message, Next Protocol, Error, Warning).
    NotCritical(u16),
    /// The output buffer is too small.
    BufferTooSmall,
    /// Bytes after End of Message.
    AfterEnd,
}

impl fmt::Display for KeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeError::Truncated => f.write_str("NTS-KE record truncated"),
            KeError::RecordTooLong(n) => write!(f, "NTS-KE record body of {n} bytes"),
            KeError::BadBodyLength { record_type, len } => {
                write!(f, "NTS-KE record type {record_type} with a {len}-byte body")
            }
            KeError::BadServerName => f.write_str("NTS-KE server name is not a host name"),
            KeError::NotCritical(t) => write!(f, "NTS-KE record type {t} must be critical"),
            KeError::BufferTooSmall => f.write_str("NTS-KE output buffer too small"),
            KeError::AfterEnd => f.write_str("NTS-KE bytes after End of Message"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for KeError {}

/// A list of u16 ids (protocols or AEAD algorithms), borrowed from the body.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IdList<'a>(&'a [u8]);

impl<'a> IdList<'a> {
    /// The ids in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        self.0.chunks_exact(2).map(|c| {
            u16::from_be_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
    }

    /// Whether `id` is in the list.
    pub fn contains(&self, id: u16) -> bool {
        self.iter().any(|x| x == id)
    }

    /// How many ids.
    pub const fn len(&self) -> usize {
        self.0.len() / 2
    }

    /// True for an empty list (a server's "none of those").
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for IdList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One NTS-KE record, borrowed from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// End of Message.
    EndOfMessage,
    /// NTS Next Protocol Negotiation.
    NextProtocol(IdList<'a>),
    /// Error.
    Error(ErrorCode),
    /// Warning (no codes are defined).
    Warning(u16),
    /// AEAD Algorithm Negotiation; `critical` as sent.
    Aead {
        /// The ids.
        ids: IdList<'a>,
        /// The critical bit (optional for this type).
        critical: bool,
    },
    /// New Cookie for NTPv4.
    NewCookie {
        /// The cookie.
        cookie: &'a [u8],
        /// The critical bit (RFC 8915 §4.1.6: SHOULD NOT be set, but may be).
        critical: bool,
    },
    /// NTPv4 Server Negotiation: a host name or address in ASCII.
    Server {
        /// The name.
        name: &'a str,
        /// The critical bit (optional).
        critical: bool,
    },
    /// NTPv4 Port Negotiation.
    Port {
        /// The port.
        port: u16,
        /// The critical bit (optional).
        critical: bool,
    },
    /// A record type this code does not know. Critical ones must be answered with
    /// Error 0 (RFC 8915 §4); others are ignored.
    Unknown {
        /// The type (15 bits).
        record_type: u16,
        /// The critical bit.
        critical: bool,
        /// The body.
        body: &'a [u8],
    },
}

fn body_u16(record_type: u16, body: &[u8]) -> Result<u16, KeError> {
    match body {
        [a, b] => Ok(u16::from_be_bytes([*a, *b])),
        _ => Err(bad_len(record_type, body)),
    }
}

fn bad_len(record_type: u16, body: &[u8]) -> KeError {
    KeError::BadBodyLength {
        record_type,
        len: u16::try_from(body.len()).unwrap_or(u16::MAX),
    }
}

fn id_list(record_type: u16, body: &[u8]) -> Result<IdList<'_>, KeError> {
    if body.len() & 1 == 0 {
        Ok(IdList(body))
    } else {
        Err(bad_len(record_type, body))
    }
}

/// Printable ASCII without spaces (what chrony accepts): host names, IPv4 and IPv6
/// literals.
fn is_host_char(b: u8) -> bool {
    b.is_ascii_graphic()
}

impl<'a> Record<'a> {
    /// Interprets a record from its first type word and body.
    pub fn from_parts(type_word: u16, body: &'a [u8]) -> Result<Self, KeError> {
        use record_type::*;
        let critical = type_word & CRITICAL != 0;
        let record_type = type_word & !CRITICAL;
        let must_be_critical = matches!(
            record_type,
            END_OF_MESSAGE | NEXT_PROTOCOL | ERROR | WARNING
        );
        if must_be_critical && !critical {
            return Err(KeError::NotCritical(record_type));
        }
        Ok(match record_type {
            END_OF_MESSAGE if body.is_empty() => Record::EndOfMessage,
            END_OF_MESSAGE => return Err(bad_len(record_type, body)),
            NEXT_PROTOCOL => Record::NextProtocol(id_list(record_type, body)?),
            ERROR => Record::Error(ErrorCode::from_u16(body_u16(record_type, body)?)),
            WARNING => Record::Warning(body_u16(record_type, body)?),
            AEAD_ALGORITHM => Record::Aead {
                ids: id_list(record_type, body)?,
                critical,
            },
            NEW_COOKIE if body.is_empty() => return Err(bad_len(record_type, body)),
            NEW_COOKIE => Record::NewCookie {
                cookie: body,
                critical,
            },
            SERVER => {
                if body.is_empty() || !body.iter().all(|&b| is_host_char(b)) {
                    return Err(KeError::BadServerName);
                }
                let name = core::str::from_utf8(body).map_err(|_| KeError::BadServerName)?;
                Record::Server { name, critical }
            }
            PORT => Record::Port {
                port: body_u16(record_type, body)?,
                critical,
            },
            _ => Record::Unknown {
                record_type,
                critical,
                body,
            },
        })
    }

    /// The first type word: critical bit and type.
    pub fn type_word(&self) -> u16 {
        use record_type::*;
        let (t, critical) = match *self {
            Record::EndOfMessage => (END_OF_MESSAGE, true),
            Record::NextProtocol(_) => (NEXT_PROTOCOL, true),
            Record::Error(_) => (ERROR, true),
            Record::Warning(_) => (WARNING, true),
            Record::Aead { critical, .. } => (AEAD_ALGORITHM, critical),
            Record::NewCookie { critical, .. } => (NEW_COOKIE, critical),
            Record::Server { critical, .. } => (SERVER, critical),
            Record::Port { critical, .. } => (PORT, critical),
            Record::Unknown {
                record_type,
                critical,
                ..
            } => (record_type & !CRITICAL, critical),
        };
        if critical {
            t | CRITICAL
        } else {
            t
        }
    }

    /// Writes the record into `out`; returns the bytes written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, KeError> {
        let two: [u8; 2];
        let body: &[u8] = match *self {
            Record::EndOfMessage => &[],
            Record::NextProtocol(ids) | Record::Aead { ids, .. } => ids.0,
            Record::Error(code) => {
                two = code.to_u16().to_be_bytes();
                &two
            }
            Record::Warning(code) => {
                two = code.to_be_bytes();
                &two
            }
            Record::Port { port, .. } => {
                two = port.to_be_bytes();
                &two
            }
            Record::NewCookie { cookie: body, .. } | Record::Unknown { body, .. } => body,
            Record::Server { name, .. } => name.as_bytes(),
        };
        emit_raw(self.type_word(), body, out)
    }
}

/// Writes a record from its type word and body.
pub fn emit_raw(type_word: u16, body: &[u8], out: &mut [u8]) -> Result<usize, KeError> {
    let len = u16::try_from(body.len()).map_err(|_| KeError::BufferTooSmall)?;
    let total = RECORD_HEADER_LEN
        .checked_add(body.len())
        .ok_or(KeError::BufferTooSmall)?;
    let dst = out.get_mut(..total).ok_or(KeError::BufferTooSmall)?;
    let (header, rest) = dst.split_at_mut(RECORD_HEADER_LEN);
    let [t0, t1] = type_word.to_be_bytes();
    let [l0, l1] = len.to_be_bytes();
    header.copy_from_slice(&[t0, t1, l0, l1]);
    rest.copy_from_slice(body);
    Ok(total)
}

/// Writes a Next Protocol or AEAD record whose body is `ids`.
pub fn emit_ids(type_word: u16, ids: &[u16], out: &mut [u8]) -> Result<usize, KeError> {
    let mut body = [0u8; 16];
    let bytes = body
        .get_mut(..ids.len().saturating_mul(2))
        .ok_or(KeError::BufferTooSmall)?;
    for (dst, id) in bytes.chunks_exact_mut(2).zip(ids) {
        dst.copy_from_slice(&id.to_be_bytes());
    }
    emit_raw(type_word, bytes, out)
}

/// Reads one record from the start of `bytes`; returns it and the bytes after it.
pub fn parse_record(bytes: &[u8]) -> Result<(Record<'_>, &[u8]), KeError> {
    let (header, rest) = bytes
        .split_first_chunk::<RECORD_HEADER_LEN>()
        .ok_or(KeError::Truncated)?;
    let [t0, t1, l0, l1] = *header;
    let len = u16::from_be_bytes([l0, l1]);
    if usize::from(len) > MAX_RECORD_BODY {
        return Err(KeError::RecordTooLong(len));
    }
    let (body, after) = rest
        .split_at_checked(usize::from(len))
        .ok_or(KeError::Truncated)?;
    Ok((
        Record::from_parts(u16::from_be_bytes([t0, t1]), body)?,
        after,
    ))
}

/// What [`RecordDecoder::feed`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// All input consumed; no record complete yet.
    NeedMore,
    /// A record is complete after `consumed` bytes of the input: read it with
    /// [`RecordDecoder::record`], then feed the rest.
    Ready {
        /// Input bytes taken.
        consumed: usize,
    },
}

/// Incremental NTS-KE record decoder with a fixed buffer: feed it the TLS plaintext in
/// chunks of any size; it hands out one record at a time.
///
/// After a record has been read, the next `feed` starts the next one. After End of
/// Message, any further byte is [`KeError::AfterEnd`]. After an error the decoder stays
/// failed (the connection is to be closed).
#[derive(Clone)]
pub struct RecordDecoder {
    buf: [u8; RECORD_HEADER_LEN + MAX_RECORD_BODY],
    filled: usize,
    ready: bool,
    ended: bool,
    failed: Option<KeError>,
}

impl Default for RecordDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RecordDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordDecoder")
            .field("filled", &self.filled)
            .field("ready", &self.ready)
            .field("ended", &self.ended)
            .field("failed", &self.failed)
            .finish()
    }
}

impl RecordDecoder {
    /// An empty decoder.
    pub const fn new() -> Self {
        RecordDecoder {
            buf: [0; RECORD_HEADER_LEN + MAX_RECORD_BODY],
            filled: 0,
            ready: false,
            ended: false,
            failed: None,
        }
    }

    /// True once End of Message has been decoded.
    pub const fn ended(&self) -> bool {
        self.ended
    }

    /// Bytes needed for the record being assembled, once its header is in.
    fn wanted(&self) -> usize {
        match self.buf.first_chunk::<RECORD_HEADER_LEN>() {
            Some(h) if self.filled >= RECORD_HEADER_LEN => {
                RECORD_HEADER_LEN + usize::from(u16::from_be_bytes([h[2], h[3]]))
            }
            _ => RECORD_HEADER_LEN,
        }
    }

    /// Takes bytes from `input` until a record is complete or the input is used up.
    pub fn feed(&mut self, input: &[u8]) -> Result<Feed, KeError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.ready {
            self.ready = false;
            self.filled = 0;
        }
        let mut consumed = 0;
        loop {
            if self.ended && consumed < input.len() {
                return self.fail(KeError::AfterEnd);
            }
            let wanted = self.wanted();
            if self.filled >= RECORD_HEADER_LEN && wanted > self.buf.len() {
                let len = u16::try_from(wanted - RECORD_HEADER_LEN).unwrap_or(u16::MAX);
                return self.fail(KeError::RecordTooLong(len));
            }
            if self.filled == wanted && self.filled >= RECORD_HEADER_LEN {
                // Complete: validate now so errors surface at the record that has them.
                let (t, body) = self.parts();
                match Record::from_parts(t, body) {
                    Ok(Record::EndOfMessage) => self.ended = true,
                    Ok(_) => {}
                    Err(e) => return self.fail(e),
                }
                self.ready = true;
                return Ok(Feed::Ready { consumed });
            }
            let Some(rest) = input.get(consumed..).filter(|r| !r.is_empty()) else {
                return Ok(Feed::NeedMore);
            };
            let take = (wanted - self.filled).min(rest.len());
            let (Some(dst), Some(src)) = (
                self.buf.get_mut(self.filled..self.filled + take),
                rest.get(..take),
            ) else {
                return self.fail(KeError::BufferTooSmall);
            };
            dst.copy_from_slice(src);
            self.filled += take;
            consumed += take;
        }
    }

    fn fail(&mut self, e: KeError) -> Result<Feed, KeError> {
        self.failed = Some(e);
        Err(e)
    }

    fn parts(&self) -> (u16, &[u8]) {
        let t = u16::from_be_bytes([
            self.buf.first().copied().unwrap_or(0),
            self.buf.get(1).copied().unwrap_or(0),
        ]);
        (
            t,
            self.buf.get(RECORD_HEADER_LEN..self.filled).unwrap_or(&[]),
        )
    }

    /// The record completed by the last [`feed`](Self::feed) that returned
    /// [`Feed::Ready`]; `None` otherwise.
    pub fn record(&self) -> Option<Record<'_>> {
        if !self.ready {
            return None;
        }
        let (t, body) = self.parts();
        Record::from_parts(t, body).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Golden bytes: a client request as chrony sends it (Next Protocol NTPv4, AEAD
    /// AES-SIV-CMAC-256, End of Message).
    const CLIENT_REQUEST: [u8; 16] = [
        0x80, 0x01, 0x00, 0x02, 0x00, 0x00, // critical Next Protocol, [0]
        0x80, 0x04, 0x00, 0x02, 0x00, 0x0f, // critical AEAD, [15]
        0x80, 0x00, 0x00, 0x00, // End of Message
    ];

    #[test]
    fn golden_records() {
        let mut out = [0u8; 64];
        let mut n = emit_ids(CRITICAL | record_type::NEXT_PROTOCOL, &[0], &mut out).unwrap();
        n += emit_ids(CRITICAL | record_type::AEAD_ALGORITHM, &[15], &mut out[n..]).unwrap();
        n += Record::EndOfMessage.emit(&mut out[n..]).unwrap();
        assert_eq!(&out[..n], &CLIENT_REQUEST);

        let cases: &[(Record<'_>, &[u8])] = &[
            (Record::Error(ErrorCode::BadRequest), &[0x80, 2, 0, 2, 0, 1]),
            (Record::Warning(7), &[0x80, 3, 0, 2, 0, 7]),
            (
                Record::NewCookie {
                    cookie: &[9, 8, 7],
                    critical: false,
                },
                &[0, 5, 0, 3, 9, 8, 7],
            ),
            (
                Record::NewCookie {
                    cookie: &[9],
                    critical: true,
                },
                &[0x80, 5, 0, 1, 9],
            ),
            (
                Record::Server {
                    name: "ntp.example",
                    critical: false,
                },
                b"\x00\x06\x00\x0bntp.example",
            ),
            (
                Record::Port {
                    port: 123,
                    critical: true,
                },
                &[0x80, 7, 0, 2, 0, 123],
            ),
            (
                Record::Unknown {
                    record_type: 0x4000,
                    critical: false,
                    body: &[1],
                },
                &[0x40, 0, 0, 1, 1],
            ),
        ];
        for (rec, bytes) in cases {
            let n = rec.emit(&mut out).unwrap();
            assert_eq!(&out[..n], *bytes, "{rec:?}");
            assert_eq!(parse_record(bytes), Ok((*rec, &[][..])));
        }
    }

    #[test]
    fn parse_request() {
        let (r, rest) = parse_record(&CLIENT_REQUEST).unwrap();
        let Record::NextProtocol(ids) = r else {
            panic!("{r:?}")
        };
        assert_eq!(ids.iter().collect::<Vec<_>>(), [0]);
        let (r, rest) = parse_record(rest).unwrap();
        assert!(matches!(r, Record::Aead { ids, critical: true } if ids.contains(15)));
        assert_eq!(parse_record(rest), Ok((Record::EndOfMessage, &[][..])));
    }

    #[test]
    fn hostile_records() {
        use KeError::*;
        let cases: &[(&[u8], KeError)] = &[
            (&[], Truncated),
            (&[0x80, 0, 0], Truncated),
            (&[0x80, 1, 0, 4, 0, 0], Truncated),
            (
                &[0x80, 0, 0, 1, 0],
                BadBodyLength {
                    record_type: 0,
                    len: 1,
                },
            ),
            (&[0, 0, 0, 0], NotCritical(0)),
            (&[0, 1, 0, 2, 0, 0], NotCritical(1)),
            (
                &[0x80, 1, 0, 3, 0, 0, 0],
                BadBodyLength {
                    record_type: 1,
                    len: 3,
                },
            ),
            (
                &[0x80, 2, 0, 0],
                BadBodyLength {
                    record_type: 2,
                    len: 0,
                },
            ),
            (
                &[0x80, 2, 0, 3, 0, 0, 0],
                BadBodyLength {
                    record_type: 2,
                    len: 3,
                },
            ),
            (
                &[0, 5, 0, 0],
                BadBodyLength {
                    record_type: 5,
                    len: 0,
                },
            ),
            (&[0, 6, 0, 0], BadServerName),
            (b"\x00\x06\x00\x03a b", BadServerName),
            (&[0, 6, 0, 1, 0xc3], BadServerName),
            (
                &[0, 7, 0, 1, 0],
                BadBodyLength {
                    record_type: 7,
                    len: 1,
                },
            ),
            (&[0, 5, 0x04, 0x01], RecordTooLong(1025)),
            (&[0, 5, 0xff, 0xff], RecordTooLong(0xffff)),
        ];
        for (bytes, e) in cases {
            assert_eq!(parse_record(bytes).map(|_| ()), Err(*e), "{bytes:?}");
        }
        // The largest accepted body.
        let mut big = std::vec![0u8; 4 + MAX_RECORD_BODY];
        big[1] = 5;
        big[2..4].copy_from_slice(&(MAX_RECORD_BODY as u16).to_be_bytes());
        assert!(
            matches!(parse_record(&big), Ok((Record::NewCookie { cookie: c, .. }, [])) if c.len() == MAX_RECORD_BODY)
        );
    }

    /// Feeds `stream` in chunks of the given sizes (cycled); collects what comes out.
    fn decode_chunked(stream: &[u8], chunks: &[usize]) -> Result<Vec<Vec<u8>>, KeError> {
        let mut d = RecordDecoder::new();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        while pos < stream.len() {
            let size = chunks[i % chunks.len()].max(1);
            i += 1;
            let mut chunk = &stream[pos..(pos + size).min(stream.len())];
            pos += chunk.len();
            while !chunk.is_empty() {
                match d.feed(chunk)? {
                    Feed::NeedMore => break,
                    Feed::Ready { consumed } => {
                        let r = d.record().unwrap();
                        let mut buf = [0u8; 2048];
                        let n = r.emit(&mut buf).unwrap();
                        out.push(buf[..n].to_vec());
                        chunk = &chunk[consumed..];
                    }
                }
            }
        }
        // A record completed by the very last byte needs one more call to be seen
        // only if the chunk ended exactly there: covered above (Ready is returned by
        // the call that took its last byte).
        Ok(out)
    }

    #[test]
    fn split_across_tls_records() {
        let mut stream = Vec::new();
        let mut buf = [0u8; 400];
        for r in [
            Record::NextProtocol(IdList(&[0, 0])),
            Record::Aead {
                ids: IdList(&[0, 15]),
                critical: true,
            },
            Record::NewCookie {
                cookie: &[0x42; 100],
                critical: false,
            },
            Record::NewCookie {
                cookie: &[0x43; 100],
                critical: true,
            },
            Record::Server {
                name: "127.0.0.1",
                critical: true,
            },
            Record::Port {
                port: 4123,
                critical: true,
            },
            Record::EndOfMessage,
        ] {
            let n = r.emit(&mut buf).unwrap();
            stream.extend_from_slice(&buf[..n]);
        }
        let whole = decode_chunked(&stream, &[stream.len()]).unwrap();
        assert_eq!(whole.len(), 7);
        assert_eq!(whole.concat(), stream);
        for chunks in [&[1][..], &[2], &[3], &[5, 1, 7], &[100], &[4, 200]] {
            assert_eq!(
                decode_chunked(&stream, chunks).unwrap(),
                whole,
                "{chunks:?}"
            );
        }
        // After End of Message, one more byte is refused, and the decoder stays failed.
        let mut d = RecordDecoder::new();
        assert_eq!(d.feed(&[0x80, 0, 0, 0]), Ok(Feed::Ready { consumed: 4 }));
        assert!(d.ended());
        assert_eq!(d.feed(&[0]), Err(KeError::AfterEnd));
        assert_eq!(d.feed(&[]), Err(KeError::AfterEnd));
    }

    #[test]
    fn decoder_refuses_oversized_and_bad_records_early() {
        let mut d = RecordDecoder::new();
        // The length is known after the header: refused before the body arrives.
        assert_eq!(d.feed(&[0, 5, 0xff]), Ok(Feed::NeedMore));
        assert_eq!(d.feed(&[0xff]), Err(KeError::RecordTooLong(0xffff)));
        let mut d = RecordDecoder::new();
        assert_eq!(d.feed(&[0, 0, 0, 0]), Err(KeError::NotCritical(0)));
        assert_eq!(d.record(), None);
        // Zero-length bodies are complete with the header.
        let mut d = RecordDecoder::new();
        assert_eq!(
            d.feed(&[0x40, 0, 0, 0, 0x80]),
            Ok(Feed::Ready { consumed: 4 })
        );
        assert!(matches!(
            d.record(),
            Some(Record::Unknown {
                record_type: 0x4000,
                ..
            })
        ));
        assert_eq!(d.feed(&[0x80]), Ok(Feed::NeedMore));
    }

    #[test]
    fn error_codes() {
        for c in 0..5u16 {
            assert_eq!(ErrorCode::from_u16(c).to_u16(), c);
        }
        assert_eq!(ErrorCode::from_u16(2), ErrorCode::InternalServerError);
    }
}

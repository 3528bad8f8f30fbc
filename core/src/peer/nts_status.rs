//! What monitoring shows of an NTS source (RFC 8915): part of [`SourceStatus`], in
//! plain types that exist with or without the `nts` feature, so `slewctl peers` and
//! its JSON have one shape.
//!
//! [`SourceStatus`]: super::SourceStatus

/// Why an NTS source needs (new) NTS-KE before its next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeNeed {
    /// It never had a key exchange.
    Initial,
    /// Every cookie was spent (answers lost).
    OutOfCookies,
    /// The server sent an NTS NAK: it cannot open our cookies any more.
    Nak,
    /// The server stopped answering (reach register empty).
    Unreachable,
}

impl KeNeed {
    /// Every reason, for reading a code back.
    pub const ALL: [KeNeed; 4] = [
        KeNeed::Initial,
        KeNeed::OutOfCookies,
        KeNeed::Nak,
        KeNeed::Unreachable,
    ];

    /// A short lowercase code for tables and JSON.
    pub const fn code(self) -> &'static str {
        match self {
            KeNeed::Initial => "initial",
            KeNeed::OutOfCookies => "out-of-cookies",
            KeNeed::Nak => "nak",
            KeNeed::Unreachable => "unreachable",
        }
    }
}

/// Why an NTS-KE session failed, as the port reports it
/// ([`Node::key_exchange_failed`](crate::node::Node::key_exchange_failed)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeFailure {
    /// No TCP connection (refused, unreachable, name did not resolve).
    Connect,
    /// The connection, handshake or answer took too long.
    Timeout,
    /// The certificate was not trusted (unknown CA, self-signed, wrong name, expired).
    Certificate,
    /// The server did not agree on ALPN `ntske/1`.
    Alpn,
    /// Any other TLS failure.
    Tls,
    /// The server offers no AEAD we do (AES-SIV-CMAC-256).
    NoCommonAead,
    /// The server answered with an NTS-KE Error record.
    Refused,
    /// The answer broke the NTS-KE rules (no cookies, bad records).
    Malformed,
    /// Anything else.
    Other,
}

impl KeFailure {
    /// Every failure, for reading a code back.
    pub const ALL: [KeFailure; 9] = [
        KeFailure::Connect,
        KeFailure::Timeout,
        KeFailure::Certificate,
        KeFailure::Alpn,
        KeFailure::Tls,
        KeFailure::NoCommonAead,
        KeFailure::Refused,
        KeFailure::Malformed,
        KeFailure::Other,
    ];

    /// A short lowercase code for tables and JSON.
    pub const fn code(self) -> &'static str {
        match self {
            KeFailure::Connect => "connect",
            KeFailure::Timeout => "timeout",
            KeFailure::Certificate => "certificate",
            KeFailure::Alpn => "alpn",
            KeFailure::Tls => "tls",
            KeFailure::NoCommonAead => "no-common-aead",
            KeFailure::Refused => "refused",
            KeFailure::Malformed => "malformed",
            KeFailure::Other => "other",
        }
    }
}

/// Why an answer from an NTS source was refused before it reached the clock filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NtsRefusal {
    /// No request waiting for an answer: a replay, or no cookies installed yet.
    NotWaiting,
    /// Not an acceptable NTP packet.
    Wire,
    /// A malformed or misplaced NTS field.
    Field,
    /// Not the Unique Identifier of our request (or none: an unauthenticated answer).
    UniqueId,
    /// An NTS NAK for our request.
    Nak,
    /// No authenticator.
    MissingAuthenticator,
    /// The authenticator does not verify under S2C (forged or damaged).
    Forged,
    /// Authentic, but without a single usable cookie.
    NoCookies,
}

impl NtsRefusal {
    /// Every refusal, for reading a code back.
    pub const ALL: [NtsRefusal; 8] = [
        NtsRefusal::NotWaiting,
        NtsRefusal::Wire,
        NtsRefusal::Field,
        NtsRefusal::UniqueId,
        NtsRefusal::Nak,
        NtsRefusal::MissingAuthenticator,
        NtsRefusal::Forged,
        NtsRefusal::NoCookies,
    ];

    /// A short lowercase code for tables and JSON.
    pub const fn code(self) -> &'static str {
        match self {
            NtsRefusal::NotWaiting => "not-waiting",
            NtsRefusal::Wire => "wire",
            NtsRefusal::Field => "field",
            NtsRefusal::UniqueId => "unique-id",
            NtsRefusal::Nak => "nak",
            NtsRefusal::MissingAuthenticator => "no-authenticator",
            NtsRefusal::Forged => "forged",
            NtsRefusal::NoCookies => "no-cookies",
        }
    }
}

/// The outcome of the last NTS-KE session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeResult {
    /// Keys and this many cookies installed.
    Ok {
        /// Cookies received.
        cookies: u8,
    },
    /// It failed, for this reason.
    Failed(KeFailure),
}

/// The NTS part of a source's status ([`SourceStatus::nts`](super::SourceStatus::nts)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NtsSourceStatus {
    /// Cookies held.
    pub cookies: u8,
    /// `Some(why)` while the source waits for NTS-KE (no request is sent meanwhile).
    pub needs_key_exchange: Option<KeNeed>,
    /// NTS-KE sessions that succeeded.
    pub key_exchanges: u32,
    /// The last NTS-KE session's outcome, `None` before the first.
    pub last_key_exchange: Option<KeResult>,
    /// Answers refused by the NTS checks (NAKs included).
    pub refused: u32,
    /// Why the last refused answer was refused.
    pub last_refusal: Option<NtsRefusal>,
    /// NTS NAKs received.
    pub naks: u32,
}

//! Why an NTS-KE exchange failed, in words an admin can act on (the log and
//! `slewctl peers` show the [`Display`](std::fmt::Display)).

use std::fmt;
use std::io;

use rustls::{AlertDescription, CertificateError};
use slew_core::nts::ke::ErrorCode;
use slew_core::nts::ke_msg::NegotiationError;

/// Why NTS-KE with one server failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeFailure {
    /// The name did not resolve (resolver's words).
    Resolve(String),
    /// TCP connection refused: nothing listens on the NTS-KE port.
    Refused,
    /// Connect, handshake or response did not finish in time (which stage).
    Timeout(&'static str),
    /// The server's certificate is signed by no CA we trust (self-signed, or a private
    /// CA not configured).
    UnknownIssuer,
    /// The certificate is not valid for the name we connected to.
    NameMismatch,
    /// Any other certificate problem (expired, not yet valid, revoked, ...).
    Certificate(String),
    /// The server does not speak ALPN `ntske/1`.
    Alpn,
    /// The server offers no AEAD we support (an empty AEAD record).
    NoCommonAead,
    /// The server sent an NTS-KE Error record.
    ServerRefused(ErrorCode),
    /// The response broke the NTS-KE rules.
    Protocol(NegotiationError),
    /// The CA file or system store could not be read.
    TrustStore(String),
    /// Another TLS or I/O error.
    Other(String),
}

impl fmt::Display for KeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeFailure::Resolve(why) => write!(f, "NTS-KE: {why}"),
            KeFailure::Refused => write!(
                f,
                "NTS-KE: connection refused (no NTS-KE server on that port; the default is 4460)"
            ),
            KeFailure::Timeout(stage) => write!(f, "NTS-KE: timed out during {stage}"),
            KeFailure::UnknownIssuer => write!(
                f,
                "NTS-KE: the server's certificate is not signed by a trusted CA (self-signed \
                 or a private CA); to trust it, add `ca FILE` with that CA's PEM file to \
                 the server line"
            ),
            KeFailure::NameMismatch => write!(
                f,
                "NTS-KE: the server's certificate is not valid for the name on the server line"
            ),
            KeFailure::Certificate(why) => write!(f, "NTS-KE: bad certificate: {why}"),
            KeFailure::Alpn => write!(
                f,
                "NTS-KE: the server does not speak ALPN ntske/1 (not an NTS-KE server?)"
            ),
            KeFailure::NoCommonAead => write!(
                f,
                "NTS-KE: no common AEAD (slew offers AEAD_AES_SIV_CMAC_256 only)"
            ),
            KeFailure::ServerRefused(code) => {
                write!(f, "NTS-KE: the server refused the request: error {code:?}")
            }
            KeFailure::Protocol(e) => write!(f, "NTS-KE: bad response: {e:?}"),
            KeFailure::TrustStore(why) => write!(f, "NTS-KE: trust store: {why}"),
            KeFailure::Other(why) => write!(f, "NTS-KE: {why}"),
        }
    }
}

impl std::error::Error for KeFailure {}

impl From<NegotiationError> for KeFailure {
    fn from(e: NegotiationError) -> Self {
        match e {
            NegotiationError::ServerError(code) => KeFailure::ServerRefused(code),
            NegotiationError::Aead => KeFailure::NoCommonAead,
            other => KeFailure::Protocol(other),
        }
    }
}

impl From<rustls::Error> for KeFailure {
    fn from(e: rustls::Error) -> Self {
        match e {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => KeFailure::UnknownIssuer,
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => KeFailure::NameMismatch,
                other => KeFailure::Certificate(format!("{other:?}")),
            },
            rustls::Error::AlertReceived(AlertDescription::NoApplicationProtocol)
            | rustls::Error::NoApplicationProtocol => KeFailure::Alpn,
            other => KeFailure::Other(other.to_string()),
        }
    }
}

impl KeFailure {
    /// The node's coarse kind of this failure, for `slewctl peers` and the metrics
    /// ([`slew_core::node::Node::key_exchange_failed`]).
    pub fn kind(&self) -> slew_core::peer::KeFailure {
        use slew_core::peer::KeFailure as K;
        match self {
            KeFailure::Resolve(_) | KeFailure::Refused => K::Connect,
            KeFailure::Timeout(_) => K::Timeout,
            KeFailure::UnknownIssuer
            | KeFailure::NameMismatch
            | KeFailure::Certificate(_)
            | KeFailure::TrustStore(_) => K::Certificate,
            KeFailure::Alpn => K::Alpn,
            KeFailure::NoCommonAead => K::NoCommonAead,
            KeFailure::ServerRefused(_) => K::Refused,
            KeFailure::Protocol(_) => K::Malformed,
            KeFailure::Other(_) => K::Other,
        }
    }

    /// Classifies an I/O error of the TLS stream at `stage`.
    pub fn from_io(e: &io::Error, stage: &'static str) -> Self {
        if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            return tls.clone().into();
        }
        match e.kind() {
            io::ErrorKind::ConnectionRefused => KeFailure::Refused,
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => KeFailure::Timeout(stage),
            _ => KeFailure::Other(format!("{stage}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_failures_map_to_what_the_admin_can_act_on() {
        let e = KeFailure::from(NegotiationError::ServerError(ErrorCode::BadRequest));
        assert_eq!(e, KeFailure::ServerRefused(ErrorCode::BadRequest));
        assert!(e.to_string().contains("refused"), "{e}");
        let e = KeFailure::from(NegotiationError::Aead);
        assert_eq!(e, KeFailure::NoCommonAead);
        assert!(e.to_string().contains("AEAD_AES_SIV_CMAC_256"), "{e}");
        let e = KeFailure::from(NegotiationError::NoCookies);
        assert_eq!(e, KeFailure::Protocol(NegotiationError::NoCookies));
    }

    #[test]
    fn tls_and_socket_errors_are_told_apart() {
        let cert = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = io::Error::new(io::ErrorKind::InvalidData, cert);
        let e = KeFailure::from_io(&io, "the TLS handshake");
        assert_eq!(e, KeFailure::UnknownIssuer);
        assert!(e.to_string().contains("`ca FILE`"), "{e}");
        let expired = rustls::Error::InvalidCertificate(CertificateError::Expired);
        assert!(matches!(
            KeFailure::from(expired),
            KeFailure::Certificate(_)
        ));
        let alert = rustls::Error::AlertReceived(AlertDescription::NoApplicationProtocol);
        assert_eq!(KeFailure::from(alert), KeFailure::Alpn);
        let t = io::Error::from(io::ErrorKind::WouldBlock);
        assert_eq!(
            KeFailure::from_io(&t, "the response"),
            KeFailure::Timeout("the response")
        );
        assert!(KeFailure::Timeout("the response")
            .to_string()
            .contains("during the response"));
        let r = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(KeFailure::from_io(&r, "connect"), KeFailure::Refused);
    }
}

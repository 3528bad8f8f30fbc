//! rustls configurations for NTS-KE: TLS 1.3 only, the ring provider, ALPN
//! `ntske/1`; roots from a configured CA file or the system store; the server's
//! certificate chain and key from PEM files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::ClientConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ServerConfig;
use rustls::RootCertStore;
use slew_core::nts::ke_msg::ALPN;

use super::error::KeFailure;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Why a certificate or key file cannot be served or trusted.
#[derive(Debug)]
pub enum TlsFileError {
    /// The file cannot be read, or is not PEM.
    Pem {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said.
        error: rustls::pki_types::pem::Error,
    },
    /// A PEM file without a certificate in it.
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// No private key the server can use.
    NoKey {
        /// The key file.
        path: PathBuf,
        /// What the PEM reader said.
        error: rustls::pki_types::pem::Error,
    },
    /// rustls refused the pair (the key does not match the certificate, an
    /// unsupported algorithm).
    Refused {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        error: rustls::Error,
    },
}

impl std::fmt::Display for TlsFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pem { path, error } => write!(f, "{}: {error}", path.display()),
            Self::NoCertificate { path } => {
                write!(f, "{}: no PEM certificate in it", path.display())
            }
            Self::NoKey { path, error } => {
                write!(f, "{}: no usable private key: {error}", path.display())
            }
            Self::Refused { cert, key, error } => {
                write!(f, "{} / {}: {error}", cert.display(), key.display())
            }
        }
    }
}

impl std::error::Error for TlsFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Pem { error, .. } | Self::NoKey { error, .. } => Some(error),
            Self::Refused { error, .. } => Some(error),
            Self::NoCertificate { .. } => None,
        }
    }
}

/// Reads every certificate of a PEM file.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsFileError> {
    let pem = |error| TlsFileError::Pem {
        path: path.to_path_buf(),
        error,
    };
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path).map_err(pem)?.collect();
    let certs = certs.map_err(pem)?;
    if certs.is_empty() {
        return Err(TlsFileError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The trust anchors: the certificates of `ca_file`, or the system store
/// (/etc/ssl/certs and friends, through rustls-native-certs) when none is given.
pub fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, KeFailure> {
    let mut roots = RootCertStore::empty();
    let certs = match ca_file {
        Some(p) => read_certs(p).map_err(|e| KeFailure::TrustStore(e.to_string()))?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        let from = ca_file.map_or("the system store".to_string(), |p| p.display().to_string());
        return Err(KeFailure::TrustStore(format!(
            "no usable CA certificate in {from}"
        )));
    }
    Ok(roots)
}

/// A client configuration trusting `ca_file` (or the system store).
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, KeFailure> {
    let roots = roots(ca_file)?;
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| KeFailure::Other(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Arc::new(cfg))
}

/// A server configuration from a PEM certificate chain and a PEM private key.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, TlsFileError> {
    let certs = read_certs(cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|error| TlsFileError::NoKey {
        path: key_file.to_path_buf(),
        error,
    })?;
    let refused = |error| TlsFileError::Refused {
        cert: cert_file.to_path_buf(),
        key: key_file.to_path_buf(),
        error,
    };
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(refused)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(refused)?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    // Stateless: no session tickets or resumption, every KE is a full handshake.
    cfg.send_tls13_tickets = 0;
    Ok(Arc::new(cfg))
}

//! rustls configurations for NTS-KE: TLS 1.3 only, the ring provider, ALPN
//! `ntske/1`; roots from a configured CA file or the system store; the server's
//! certificate chain and key from PEM files.

use std::path::Path;
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

/// Reads every certificate of a PEM file.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect();
    let certs = certs.map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

/// The trust anchors: the certificates of `ca_file`, or the system store
/// (/etc/ssl/certs and friends, through rustls-native-certs) when none is given.
pub fn roots(ca_file: Option<&Path>) -> Result<RootCertStore, KeFailure> {
    let mut roots = RootCertStore::empty();
    let certs = match ca_file {
        Some(p) => read_certs(p).map_err(KeFailure::TrustStore)?,
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
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, String> {
    let certs = read_certs(cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("{}: no usable private key: {e}", key_file.display()))?;
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("{} / {}: {e}", cert_file.display(), key_file.display()))?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    // Stateless: no session tickets or resumption, every KE is a full handshake.
    cfg.send_tls13_tickets = 0;
    Ok(Arc::new(cfg))
}

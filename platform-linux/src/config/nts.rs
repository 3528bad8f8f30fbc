//! `nts …` (ntpsec's words for the NTS-KE server and NTS defaults):
//!
//! - `nts enable` / `nts disable`: the NTS-KE server on or off (on needs `cert` and `key`);
//! - `nts cert FILE`: the PEM certificate chain the server presents;
//! - `nts key FILE`: its PEM private key;
//! - `nts ca FILE`: CAs to trust for every `server … nts` without a `ca` of its own
//!   (instead of the system store);
//! - `nts cookie FILE`: where the master keys for cookies are kept (ntpsec's default is
//!   /var/lib/ntpsec/nts-keys; slewd's is /var/lib/slew/nts-keys).
//!
//! Several words may share a line (`nts enable cert A key B`), as in ntpsec. ntpsec's
//! TLS tuning words (`mintls`, `maxtls`, `tlsciphersuites`, `tlsecdhcurves`, `aead`)
//! are refused by name: slewd is TLS 1.3 with rustls' defaults and AES-SIV-CMAC-256.
//! The per-source words (`server HOST nts`, `ca FILE`, `port N`) are in sources.rs.

use std::path::PathBuf;

use super::error::ErrorKind;
use super::lexer::Line;
use super::model::Located;
use super::parser::Parser;
use super::suggest::suggest;

/// What `nts` lines said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NtsConfig {
    /// `nts enable` (true) / `nts disable` (false); the last one wins.
    pub enabled: Option<Located<bool>>,
    /// `nts cert FILE`.
    pub cert: Option<Located<PathBuf>>,
    /// `nts key FILE`.
    pub key: Option<Located<PathBuf>>,
    /// `nts ca FILE`.
    pub ca: Option<Located<PathBuf>>,
    /// `nts cookie FILE`.
    pub cookie: Option<Located<PathBuf>>,
}

const NTS_WORDS: &[&str] = &["enable", "disable", "cert", "key", "ca", "cookie"];
const NTS_UNSUPPORTED: &[&str] = &[
    "mintls",
    "maxtls",
    "tlsciphersuites",
    "tlsecdhcurves",
    "aead",
];

impl Parser<'_> {
    /// One `nts` line.
    pub(super) fn nts(&mut self, line: &Line<'_>) {
        let args = line.tokens.get(1..).unwrap_or(&[]);
        if args.is_empty() {
            self.missing(
                line,
                "nts",
                "enable, disable, cert FILE, key FILE, ca FILE or cookie FILE",
            );
            return;
        }
        let mut it = args.iter();
        while let Some(t) = it.next() {
            let word = if t.quoted { "" } else { t.text };
            match word {
                "enable" | "disable" => {
                    self.config.nts.enabled = Some(Located {
                        value: word == "enable",
                        at: self.at(t.column),
                    });
                }
                "cert" | "key" | "ca" | "cookie" => {
                    let Some(path) = it.next() else {
                        self.missing(line, &format!("nts {word}"), "a file name");
                        return;
                    };
                    let value = Some(self.path_value(path));
                    let n = &mut self.config.nts;
                    match word {
                        "cert" => n.cert = value,
                        "key" => n.key = value,
                        "ca" => n.ca = value,
                        _ => n.cookie = value,
                    }
                }
                w if NTS_UNSUPPORTED.contains(&w) => {
                    self.err(
                        t.column,
                        ErrorKind::Unsupported {
                            word: w.into(),
                            what: "option of `nts`".into(),
                        },
                    );
                    it.next();
                }
                _ => {
                    let suggestion = suggest(t.text, NTS_WORDS);
                    self.err(
                        t.column,
                        ErrorKind::UnknownOption {
                            directive: "nts",
                            word: t.text.to_string(),
                            suggestion,
                        },
                    );
                }
            }
        }
    }

    /// After the whole file: `nts enable` needs `cert` and `key`.
    pub(super) fn check_nts(&mut self) {
        let Some(on) = self.config.nts.enabled.clone() else {
            return;
        };
        if !on.value {
            return;
        }
        let missing: Vec<&str> = [
            ("nts cert FILE", self.config.nts.cert.is_none()),
            ("nts key FILE", self.config.nts.key.is_none()),
        ]
        .iter()
        .filter(|(_, m)| *m)
        .map(|(w, _)| *w)
        .collect();
        if !missing.is_empty() {
            self.push_error(super::error::ConfigError::new(
                on.at,
                ErrorKind::Conflict {
                    message: format!("`nts enable` without {}", missing.join(" and ")),
                    hint: "the NTS-KE server needs its certificate and private key (PEM files)"
                        .into(),
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{parse_str, SourceKind};
    use std::path::Path;

    fn errors(text: &str) -> String {
        match parse_str(text, Path::new("/etc/ntp.conf")) {
            Ok(_) => String::new(),
            Err(r) => r
                .errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    #[test]
    fn server_words_in_ntpsec_dialect() {
        let c = parse_str(
            "nts enable cert /etc/nts/cert.pem\nnts key key.pem cookie /var/lib/slew/k\n\
             nts ca /etc/nts/ca.pem\nserver time.example.com nts ca my-ca.pem port 4461 iburst\n\
             pool pool.example.com nts\nserver 192.0.2.1 port 10123\n",
            Path::new("/etc/ntp.conf"),
        )
        .unwrap()
        .config;
        let n = &c.nts;
        assert_eq!(n.enabled.as_ref().map(|e| e.value), Some(true));
        assert_eq!(
            n.cert.as_ref().unwrap().value,
            Path::new("/etc/nts/cert.pem")
        );
        // Relative paths are taken from the file's directory.
        assert_eq!(n.key.as_ref().unwrap().value, Path::new("/etc/key.pem"));
        assert_eq!(
            n.cookie.as_ref().unwrap().value,
            Path::new("/var/lib/slew/k")
        );
        assert_eq!(n.ca.as_ref().unwrap().value, Path::new("/etc/nts/ca.pem"));
        let s = &c.sources[0].options;
        assert!(s.nts && s.iburst);
        assert_eq!(s.ca.as_deref(), Some(Path::new("/etc/my-ca.pem")));
        // On an `nts` line `port` is the NTS-KE port; the NTP port comes from NTS-KE.
        assert_eq!((s.nts_port, s.port), (Some(4461), None));
        assert_eq!(c.sources[1].kind, SourceKind::Pool);
        assert!(c.sources[1].options.nts);
        assert!(!c.sources[2].options.nts);
        assert_eq!(c.sources[2].options.port, Some(10123));
    }

    #[test]
    fn mistakes_are_refused_at_their_line() {
        let e = errors("nts enable\n");
        assert!(
            e.contains("ntp.conf:1:5") && e.contains("nts cert FILE and nts key FILE"),
            "{e}"
        );
        assert!(errors("nts cert\n").contains("ntp.conf:1:"), "needs a file");
        let e = errors("nts mintls TLS1.2\n");
        assert!(e.contains("mintls"), "{e}");
        let e = errors("nts enabel\n");
        assert!(e.contains("enable"), "did you mean: {e}");
        let e = errors("server 192.0.2.1 ca /x.pem\n");
        assert!(
            e.contains("ntp.conf:1:18") && e.contains("`ca` without `nts`"),
            "{e}"
        );
        let e = errors("server 192.0.2.1 nts noval\n");
        assert!(e.contains("noval"), "{e}");
        let e = errors("peer 192.0.2.1 nts\n");
        assert!(e.contains("`nts` on a `peer`"), "{e}");
        assert_eq!(errors("nts disable\n"), "");
    }
}

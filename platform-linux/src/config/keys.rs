//! The symmetric keys file (ntp.keys(5)): lines of `keyno type key [ip,ip/bits,...]`.
//!
//! Rules, following ntpd 4.2.8's `authreadkeys`:
//! - `keyno` from 1 to 65535 (key 0 is fixed by the standard; the 4.2.8 man page
//!   says 65534, the code allows up to `NTP_MAXKEY` = 65535);
//! - `type`: `MD5` (or ntpd's old one-letter `M`), `SHA1` (or `SHA`), `AES128CMAC`,
//!   case-insensitive; other OpenSSL digests ntpd may accept are refused by name;
//! - `key`: at most 20 characters is an ASCII key, printable ASCII without space and
//!   `#`; longer is hex, an even number of digits, at most 64 (32 bytes) — ntpd
//!   silently stops at the first non-hex digit, slew refuses the line;
//! - an optional fourth field, a comma-separated list of addresses with optional
//!   `/bits`, limits which servers the key is trusted for (ntpd 4.2.8p7 and later).
//!
//! A bad line is an error with its line and column; unlike ntpd (which logs and skips
//! the key) slew refuses the file, since a half-read key set fails later and quietly.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use super::error::{ConfigError, ErrorKind, Location};
use super::lexer::{self, LexError, Token};
use super::suggest::suggest;

/// A symmetric key number, 1..=65535.
pub type KeyId = u16;

/// The MAC algorithm of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `MD5` (or `M`): 16-byte digest.
    Md5,
    /// `SHA1` (or `SHA`): 20-byte digest.
    Sha1,
    /// `AES128CMAC`: 16-byte CMAC.
    Aes128Cmac,
}

impl KeyType {
    /// The canonical name, as written in keys files.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Md5 => "MD5",
            KeyType::Sha1 => "SHA1",
            KeyType::Aes128Cmac => "AES128CMAC",
        }
    }
}

const TYPE_NAMES: &[&str] = &["MD5", "SHA1", "AES128CMAC"];
/// Digests ntpd accepts through OpenSSL that slew does not implement.
const OTHER_DIGESTS: &[&str] = &[
    "SHA224",
    "SHA256",
    "SHA384",
    "SHA512",
    "RIPEMD160",
    "MD4",
    "MDC2",
    "SHA3-256",
];

/// One key. The secret is left out of `Debug` so that it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    /// The key number.
    pub id: KeyId,
    /// The algorithm.
    pub key_type: KeyType,
    /// The key bytes (ASCII bytes or decoded hex).
    pub secret: Vec<u8>,
    /// Servers this key is trusted for; empty means any.
    pub allowed: Vec<(IpAddr, Option<u8>)>,
    /// Where it is defined.
    pub at: Location,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("key_type", &self.key_type)
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .field("allowed", &self.allowed)
            .field("at", &self.at)
            .finish()
    }
}

/// The keys of one keys file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFile {
    /// Keys in file order; a repeated id is an error, so ids are unique.
    pub keys: Vec<Key>,
}

impl KeyFile {
    /// The key with this id.
    pub fn get(&self, id: KeyId) -> Option<&Key> {
        self.keys.iter().find(|k| k.id == id)
    }
}

fn bad(path: &Path, line: u32, column: u32, reason: String, hint: &str) -> ConfigError {
    ConfigError::new(
        Location::new(path, line, column),
        ErrorKind::BadKey {
            reason,
            hint: hint.into(),
        },
    )
}

/// Parse a key id as written in a keys file or in `trustedkey`/`key N`.
pub(crate) fn parse_key_id(text: &str) -> Option<KeyId> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|&n| n >= 1)
}

fn parse_type(text: &str) -> Result<KeyType, (String, Option<&'static str>)> {
    let upper = text.to_ascii_uppercase();
    match upper.as_str() {
        "MD5" | "M" => Ok(KeyType::Md5),
        "SHA1" | "SHA" => Ok(KeyType::Sha1),
        "AES128CMAC" => Ok(KeyType::Aes128Cmac),
        _ => Err((upper.clone(), suggest(&upper, TYPE_NAMES))),
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn parse_secret(text: &str) -> Result<Vec<u8>, (String, &'static str)> {
    let bytes = text.as_bytes();
    // A quoted empty word (`""`) reaches here as an empty key: no secret at all.
    if bytes.is_empty() {
        return Err((
            "empty key".into(),
            "write an ASCII key of 1 to 20 characters or a hex key of 40 digits",
        ));
    }
    if bytes.len() <= 20 {
        if let Some(b) = bytes.iter().find(|b| !b.is_ascii_graphic() || **b == b'#') {
            return Err((
                format!("ASCII key holds the byte 0x{b:02x}"),
                "use printable ASCII without spaces or `#`, or a hex key of 40 digits",
            ));
        }
        return Ok(bytes.to_vec());
    }
    if bytes.len() & 1 == 1 || bytes.len() > 64 {
        return Err((
            format!(
                "a key longer than 20 characters is hex and must have an even number of \
                 digits, at most 64; this one has {}",
                bytes.len()
            ),
            "write 40 hex digits (e.g. from `ntp-keygen -M`) or an ASCII key of 1 to 20 characters",
        ));
    }
    let mut out = Vec::with_capacity(bytes.len() / 2);
    for pair in bytes.chunks(2) {
        let (Some(&hi), Some(&lo)) = (pair.first(), pair.get(1)) else {
            return Err(("odd number of hex digits".into(), "write 40 hex digits"));
        };
        match (hex_value(hi), hex_value(lo)) {
            (Some(h), Some(l)) => out.push(h << 4 | l),
            _ => {
                return Err((
                    "a key longer than 20 characters must be all hex digits".into(),
                    "write 40 hex digits, or an ASCII key of 1 to 20 characters",
                ))
            }
        }
    }
    Ok(out)
}

fn parse_allowed(text: &str) -> Option<Vec<(IpAddr, Option<u8>)>> {
    let mut out = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (addr, bits) = match part.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (part, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => Some(b.parse::<u8>().ok().filter(|&n| n <= max)?),
            None => None,
        };
        out.push((addr, bits));
    }
    Some(out)
}

fn parse_key_line(path: &Path, number: u32, tokens: &[Token<'_>]) -> Result<Key, ConfigError> {
    let at = |t: &Token<'_>| Location::new(path, number, t.column);
    let end_col = tokens.last().map_or(1, |t| {
        let len = u32::try_from(t.text.chars().count()).unwrap_or(u32::MAX);
        t.column.saturating_add(len)
    });
    let (Some(id_tok), type_tok, key_tok) = (tokens.first(), tokens.get(1), tokens.get(2)) else {
        return Err(bad(
            path,
            number,
            1,
            "empty key line".into(),
            "remove the line",
        ));
    };
    let Some(id) = parse_key_id(id_tok.text) else {
        return Err(bad(
            path,
            number,
            id_tok.column,
            format!("invalid key number `{}`", id_tok.text),
            "key numbers go from 1 to 65535",
        ));
    };
    let Some(type_tok) = type_tok else {
        return Err(bad(
            path,
            number,
            end_col,
            format!("key {id} has no type"),
            "add the type (MD5, SHA1 or AES128CMAC) and the key",
        ));
    };
    let key_type = match parse_type(type_tok.text) {
        Ok(t) => t,
        Err((upper, suggestion)) => {
            let (reason, hint) = if OTHER_DIGESTS.contains(&upper.as_str()) {
                (
                    format!("slew does not support key type `{}` yet", type_tok.text),
                    "use MD5, SHA1 or AES128CMAC".to_string(),
                )
            } else {
                let hint = match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "use MD5, SHA1 or AES128CMAC".into(),
                };
                (format!("unknown key type `{}`", type_tok.text), hint)
            };
            return Err(ConfigError::new(
                at(type_tok),
                ErrorKind::BadKey { reason, hint },
            ));
        }
    };
    let Some(key_tok) = key_tok else {
        return Err(bad(
            path,
            number,
            end_col,
            format!("key {id} has no key"),
            "add the key",
        ));
    };
    let secret = parse_secret(key_tok.text)
        .map_err(|(reason, hint)| bad(path, number, key_tok.column, reason, hint))?;
    let allowed = match tokens.get(3) {
        None => Vec::new(),
        Some(t) => parse_allowed(t.text).ok_or_else(|| {
            bad(
                path,
                number,
                t.column,
                format!("invalid address list `{}`", t.text),
                "write addresses separated by commas, each with an optional /bits",
            )
        })?,
    };
    if let Some(t) = tokens.get(4) {
        return Err(bad(
            path,
            number,
            t.column,
            format!("unexpected `{}` after the key", t.text),
            "a key line is `keyno type key [addresses]`; remove the extra word",
        ));
    }
    Ok(Key {
        id,
        key_type,
        secret,
        allowed,
        at: Location::new(path, number, id_tok.column),
    })
}

/// Parse a keys file's contents. `path` is used for locations only. Errors are
/// collected for every bad line; never panics, whatever the bytes.
pub fn parse_keys(bytes: &[u8], path: &Path) -> Result<KeyFile, Vec<ConfigError>> {
    let mut file = KeyFile::default();
    let mut errors = Vec::new();
    for line in lexer::lines(bytes) {
        let line = match line {
            Ok(l) => l,
            Err(LexError::InvalidUtf8 { line, column }) => {
                errors.push(ConfigError::new(
                    Location::new(path, line, column),
                    ErrorKind::InvalidUtf8,
                ));
                continue;
            }
            Err(LexError::UnterminatedQuote { line, column }) => {
                errors.push(ConfigError::new(
                    Location::new(path, line, column),
                    ErrorKind::UnterminatedQuote,
                ));
                continue;
            }
        };
        match parse_key_line(path, line.number, &line.tokens) {
            Ok(key) => {
                if let Some(first) = file.get(key.id) {
                    errors.push(bad(
                        path,
                        line.number,
                        key.at.column,
                        format!("key {} defined again (first at {})", key.id, first.at),
                        "give each key its own number",
                    ));
                } else {
                    file.keys.push(key);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<KeyFile, Vec<ConfigError>> {
        parse_keys(s.as_bytes(), Path::new("ntp.keys"))
    }

    #[test]
    fn good_file() {
        let f = p("# ntp.keys\n\
                   1 MD5 secret   # comment\n\
                   2 M short\n\
                   3 SHA1 0123456789abcdef0123456789ABCDEF01234567\n\
                   4 sha1 abc\n\
                   5 AES128CMAC 000102030405060708090a0b0c0d0e0f\n\
                   65535 MD5 x 192.168.1.1,10.0.0.0/8\r\n")
        .unwrap();
        assert_eq!(f.keys.len(), 6);
        assert_eq!(f.get(1).unwrap().secret, b"secret");
        assert_eq!(f.get(2).unwrap().key_type, KeyType::Md5);
        let k3 = f.get(3).unwrap();
        assert_eq!(k3.key_type, KeyType::Sha1);
        assert_eq!(k3.secret.len(), 20);
        assert_eq!(k3.secret[0], 0x01);
        assert_eq!(k3.secret[19], 0x67);
        assert_eq!(f.get(5).unwrap().secret.len(), 16);
        let k = f.get(65535).unwrap();
        assert_eq!(k.allowed.len(), 2);
        assert_eq!(k.allowed[1].1, Some(8));
        assert_eq!(k.at.line, 7);
        // The secret never reaches Debug output.
        assert!(!format!("{:?}", f.get(1).unwrap()).contains("secret\""));
    }

    #[test]
    fn errors_have_locations() {
        let errs = p("0 MD5 x\n\
                      70000 MD5 x\n\
                      7 MD6 x\n\
                      8 SHA256 x\n\
                      9 MD5\n\
                      10\n\
                      11 SHA1 0123456789abcdef0123456789abcdef0123456\n\
                      12 SHA1 0123456789abcdef0123456789abcdef012345zz\n\
                      13 MD5 x 1.2.3.4/40\n\
                      14 MD5 x 1.2.3.4 extra\n\
                      15 MD5 a\n\
                      15 MD5 b\n")
        .unwrap_err();
        let at: Vec<(u32, u32)> = errs
            .iter()
            .map(|e| (e.location.line, e.location.column))
            .collect();
        assert_eq!(
            at,
            vec![
                (1, 1),
                (2, 1),
                (3, 3),
                (4, 3),
                (5, 6),
                (6, 3),
                (7, 9),
                (8, 9),
                (9, 10),
                (10, 18),
                (12, 1)
            ]
        );
        let msg = errs[2].to_string();
        assert!(msg.contains("did you mean `MD5`?"), "{msg}");
        assert!(errs[3].to_string().contains("does not support key type"));
    }

    #[test]
    fn ascii_rules() {
        assert!(p("1 MD5 12345678901234567890\n").is_ok());
        assert!(p("1 MD5 a\x01b\n").is_err());
        assert!(p("1 MD5 \"quoted key\"\n").is_err());
        // Found by the keys_file fuzz target: a quoted empty word, CR line ends.
        assert!(p("9\rm\r\"\"").is_err());
        assert!(p("1 MD5 \"\"\n").is_err(), "an empty key is no key");
    }
}

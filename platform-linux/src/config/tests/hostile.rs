//! Hostile input never panics and stays bounded: random bytes, keyword soup, huge
//! lines, long include chains.

use std::path::Path;

use proptest::prelude::*;

use super::{MemLoader, MAIN};
use crate::config::*;

/// Option and value words the parser cares about; with every directive name (the
/// parser's own lists) they build inputs that get past the first checks.
const OTHER_WORDS: &[&str] = &[
    "iburst",
    "burst",
    "prefer",
    "perfer",
    "minpoll",
    "maxpoll",
    "key",
    "version",
    "port",
    "noselect",
    "true",
    "autokey",
    "mode",
    "ttl",
    "-4",
    "-6",
    "default",
    "source",
    "mask",
    "kod",
    "limited",
    "nomodify",
    "serverresponse",
    "fuzz",
    "ippeerlimit",
    "stratum",
    "refid",
    "time1",
    "average",
    "minimum",
    "monitor",
    "file",
    "type",
    "day",
    "panic",
    "step",
    "minsane",
    "orphan",
    "basedate",
    "listen",
    "ignore",
    "drop",
    "all",
    "(",
    ")",
    "...",
    "(1",
    "5)",
    "0",
    "1",
    "3",
    "6",
    "10",
    "17",
    "65535",
    "65536",
    "99999999999999999999999",
    "-1",
    "1.5",
    "nan",
    "127.127.1.0",
    "127.127.1.1",
    "127.127.20.0",
    "192.0.2.1",
    "255.255.255.0",
    "::1",
    "ffff::",
    "fe80::1%eth0",
    "host.example",
    "a.conf",
    "/etc/ntp.conf",
    "\"quoted word\"",
    "\"",
    "#",
    "é",
    "\t",
];

fn words() -> Vec<&'static str> {
    let d = &crate::config::directives::SUPPORTED;
    let u = &crate::config::directives::UNSUPPORTED;
    d.iter()
        .chain(u.iter())
        .chain(OTHER_WORDS.iter())
        .copied()
        .collect()
}

fn parse_bytes(bytes: &[u8], files: &mut MemLoader) -> Result<Parsed, Rejected> {
    parse_with(bytes, Path::new(MAIN), files)
}

/// The result is consistent: a rejection has errors, every diagnostic renders, and
/// no rendering carries a control character other than the newlines between a
/// message and its hint (hostile bytes are shown escaped).
fn check(r: &Result<Parsed, Rejected>) {
    let clean = |text: &str| {
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && crate::config::escape::needs_escape(c)),
            "raw control character in {text:?}"
        );
    };
    match r {
        Ok(p) => {
            for w in &p.warnings {
                clean(&w.to_string());
            }
        }
        Err(r) => {
            assert!(!r.errors.is_empty());
            assert!(r.errors.len() <= MAX_ERRORS + 1);
            clean(&r.to_string());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let r = parse_bytes(&bytes, &mut MemLoader::default());
        check(&r);
        // Keys files too.
        if let Err(errors) = parse_keys(&bytes, Path::new("/etc/ntp/keys")) {
            for e in errors {
                let text = e.to_string();
                prop_assert!(
                    !text.chars().any(|c| c != '\n' && crate::config::escape::needs_escape(c)),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn keyword_soup_never_panics(
        lines in proptest::collection::vec(
            proptest::collection::vec(proptest::sample::select(words()), 0..8),
            0..24,
        ),
        crlf in any::<bool>(),
    ) {
        let end = if crlf { "\r\n" } else { "\n" };
        let text: String = lines.iter().map(|l| l.join(" ") + end).collect();
        // Let includes of a.conf land on a file of the same soup (and on itself).
        let mut files = MemLoader::default();
        files.add("/etc/a.conf", &text);
        files.add("/etc/ntp/keys", "1 MD5 x\n");
        let r = parse_bytes(text.as_bytes(), &mut files);
        check(&r);
    }

    #[test]
    fn keys_soup_never_panics(
        lines in proptest::collection::vec(
            proptest::collection::vec(
                proptest::sample::select(&[
                    "1", "0", "65535", "65536", "MD5", "M", "SHA1", "sha", "AES128CMAC",
                    "SHA256", "x", "0123456789abcdef0123456789abcdef01234567", "zz",
                    "192.0.2.1,10.0.0.0/8", "1.2.3.4/99", "#", "\"", "é",
                ][..]),
                0..6,
            ),
            0..16,
        ),
    ) {
        let text: String = lines.iter().map(|l| l.join(" ") + "\n").collect();
        let _ = parse_keys(text.as_bytes(), Path::new("/etc/ntp/keys"));
    }
}

#[test]
fn huge_line_is_handled() {
    let mut text = String::from("server 192.0.2.1 ");
    text.push_str(&"x".repeat(MAX_FILE_SIZE));
    text.push('\n');
    let r = parse_bytes(text.as_bytes(), &mut MemLoader::default()).unwrap_err();
    assert_eq!(r.errors.len(), 1);
    assert!(matches!(
        r.errors[0].kind,
        ErrorKind::UnknownOption {
            suggestion: None,
            ..
        }
    ));
    // The message quotes the word cut short.
    assert!(r.errors[0].to_string().len() < 300);

    let many_words = "server 192.0.2.1".to_string() + &" iburst".repeat(100_000) + "\n";
    let p = parse_bytes(many_words.as_bytes(), &mut MemLoader::default()).unwrap();
    assert!(p.config.sources[0].options.iburst);

    // A huge trustedkey range is bounded by the key id space.
    let c = super::ok("trustedkey (1 ... 65535)\n");
    assert_eq!(c.trusted_keys.len(), 65535);
}

#[test]
fn self_including_soup_terminates() {
    // Every file includes itself and the next: a cycle and a depth limit at once.
    let mut files = MemLoader::default();
    for i in 0..50 {
        files.add(
            format!("/etc/f{i}.conf"),
            format!("includefile f{i}.conf\nincludefile f{}.conf\n", i + 1),
        );
    }
    let r = parse_bytes(b"includefile f0.conf\n", &mut files).unwrap_err();
    assert!(r
        .errors
        .iter()
        .any(|e| matches!(e.kind, ErrorKind::IncludeTooDeep { .. })));
    assert!(r
        .errors
        .iter()
        .any(|e| matches!(e.kind, ErrorKind::IncludeCycle { .. })));
}

#[test]
fn exponential_include_fanout_is_bounded() {
    // Each level includes the next twice: 2^depth reads, bounded by the depth limit.
    let mut files = MemLoader::default();
    for i in 0..20 {
        files.add(
            format!("/etc/g{i}.conf"),
            format!("includefile g{0}.conf\nincludefile g{0}.conf\n", i + 1),
        );
    }
    let r = parse_bytes(b"includefile g0.conf\n", &mut files).unwrap_err();
    assert!(r.errors.len() <= MAX_ERRORS + 1);

    // Wide instead of deep: 64 includes per level would be 64^5 reads.
    let mut files = MemLoader::default();
    for i in 0..4 {
        files.add(
            format!("/etc/w{i}.conf"),
            format!("includefile w{}.conf\n", i + 1).repeat(64),
        );
    }
    files.add("/etc/w4.conf", "server 192.0.2.1\n");
    let r = parse_bytes(b"includefile w0.conf\n", &mut files).unwrap_err();
    assert_eq!(r.errors.len(), 1);
    assert_eq!(
        r.errors[0].kind,
        ErrorKind::TooManyIncludes {
            limit: MAX_INCLUDES
        }
    );
}

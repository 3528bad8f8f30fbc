//! Control bytes on a line are shown escaped in diagnostics, never raw (issue 11:
//! an ESC in ntp.conf must not reach an admin's terminal or the log as it is).

use std::path::Path;

use super::{errs, MemLoader, MAIN};
use crate::config::parse_keys;

/// Printable ASCII, the newline between message and hint, and `…` (long words are
/// cut): nothing else may appear in these diagnostics.
fn printable(text: &str) -> bool {
    text.chars()
        .all(|c| c == '\n' || c == '…' || (' '..='~').contains(&c))
}

#[test]
fn each_kind_of_control_byte_is_escaped_with_file_and_line() {
    for (raw, shown) in [
        ("\0", "\\0"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x07", "\\x07"),
        ("\x08", "\\x08"),
        // (VT and FF separate words, as blanks do: never part of a word.)
        ("\x1f", "\\x1f"),
        ("\x7f", "\\x7f"),
        ("\u{9b}", "\\u{9b}"),
        ("\u{202e}", "\\u{202e}"),
    ] {
        // As a directive word, and inside an option value.
        for text in [
            format!("# comment\nserv{raw}er 192.0.2.1\n"),
            format!("# comment\nserver 192.0.2.1 minpoll 4{raw}\n"),
        ] {
            let e = errs(&text);
            let rendered = e
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n");
            assert!(printable(&rendered), "{raw:?}: {rendered:?}");
            assert!(rendered.contains(shown), "{raw:?}: {rendered}");
            assert!(rendered.contains("/etc/ntp.conf:2:"), "{rendered}");
        }
    }
}

#[test]
fn a_path_with_control_bytes_is_escaped() {
    let text = "includefile /etc/\x1b]0;owned\x07.conf\n";
    let p = super::parse_mem(text, MemLoader::default()).unwrap();
    let w: String = p.warnings.iter().map(ToString::to_string).collect();
    assert!(printable(&w), "{w:?}");
    assert!(w.contains("/etc/\\x1b]0;owned\\x07.conf"), "{w}");
}

#[test]
fn invalid_utf8_is_reported_without_echoing_it() {
    let e = super::super::parse_with(
        b"server 192.0.2.1\nserver \xff\xfe\x1b\n",
        Path::new(MAIN),
        &mut MemLoader::default(),
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(printable(&text), "{text:?}");
    assert!(text.contains("/etc/ntp.conf:2:"), "{text}");
}

#[test]
fn keys_file_errors_are_escaped() {
    let errors =
        parse_keys(b"1 MD\x1b5 secret\n2 MD5 \0\n", Path::new("/etc/ntp/keys")).unwrap_err();
    let text: String = errors.iter().map(|e| e.to_string() + "\n").collect();
    assert!(printable(&text), "{text:?}");
    assert!(text.contains("\\x1b"), "{text}");
}

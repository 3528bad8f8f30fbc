//! Untrusted text made safe for a terminal or a log: control characters are shown
//! as escapes, never written raw.
//!
//! A raw ESC in an ntp.conf line, a keys file, a server's answer or a log line can
//! rewrite an admin's terminal (colours, cursor moves, window titles); a raw NUL cuts
//! a syslog record short; a raw newline forges a log line. Every place where bytes
//! from outside reach a message uses this one helper, so they all look alike:
//! `\0`, `\t`, `\n`, `\r`, `\x1b` (other C0 and DEL as `\xNN`), C1 controls and the
//! invisible bidirectional and zero-width format characters as `\u{…}` (Trojan
//! Source: text that displays in another order than it reads). Invalid UTF-8 bytes,
//! where bytes are shown, are `\xNN` too. Everything else, including non-ASCII
//! letters, is kept as it is.

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for a character that is never written raw.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\0' => out.push_str("\\0"),
        '\t' => out.push_str("\\t"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if c.is_ascii() => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

fn escape_where(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| needs_escape(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) && !keep(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `s` with every control and invisible format character escaped.
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_where(s, |_| false)
}

/// As [`escape`], but newlines are kept: for a message made of several lines the
/// program itself wrote (an error and its hint), whose parts were escaped already.
pub fn escape_keep_newlines(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| c == '\n')
}

/// Bytes that may not be UTF-8: valid stretches as [`escape`] shows them, each
/// invalid byte as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_the_rest_kept() {
        assert_eq!(escape("plain ünïcode"), "plain ünïcode");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape("a\0b\x1b[31mc\x7f\td\n"),
            "a\\0b\\x1b[31mc\\x7f\\td\\n"
        );
        assert_eq!(escape("\u{85}\u{202e}x"), "\\u{85}\\u{202e}x");
        assert_eq!(escape_keep_newlines("a\nb\x07"), "a\nb\\x07");
        assert_eq!(escape_bytes(b"ok\xff\x1b\xc3\xa9"), "ok\\xff\\x1bé");
    }

    proptest::proptest! {
        #[test]
        fn escaped_text_has_no_control(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let s = escape_bytes(&bytes);
            proptest::prop_assert!(!s.chars().any(needs_escape), "{s:?}");
            let text = String::from_utf8_lossy(&bytes);
            proptest::prop_assert!(!escape(&text).chars().any(needs_escape));
        }
    }
}

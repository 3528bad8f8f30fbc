//! Splitting an ntp.conf (or keys file) into lines of words.
//!
//! The rules follow ntpd's scanner where it matters for real files: `#` starts a
//! comment anywhere outside a quoted string; words are separated by spaces, tabs
//! and other ASCII whitespace; a word may be a `"double quoted string"` (no escapes,
//! as in ntpd) so that paths with spaces can be written; `\r\n` line ends are
//! accepted. There are no line continuations.
//!
//! Lines are decoded one at a time, so an invalid UTF-8 byte spoils only its line.

/// One word of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    /// The word, without quotes if it was quoted.
    pub text: &'a str,
    /// 1-based column (in characters) where the word starts (the quote, if quoted).
    pub column: u32,
    /// Whether it was written in double quotes (then it is never a keyword).
    pub quoted: bool,
}

/// One non-empty line (comments and blank lines produce none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line<'a> {
    /// 1-based line number.
    pub number: u32,
    /// The words, at least one.
    pub tokens: Vec<Token<'a>>,
}

/// A line that could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LexError {
    /// Not UTF-8; the column is that of the first bad byte, in characters.
    InvalidUtf8 { line: u32, column: u32 },
    /// A quote opened at this column is not closed on the line.
    UnterminatedQuote { line: u32, column: u32 },
}

fn is_space(c: char) -> bool {
    // ASCII whitespace plus a stray '\r' in mid-line and vertical tab, which
    // `char::is_ascii_whitespace` leaves out.
    c.is_ascii_whitespace() || c == '\x0b'
}

fn column(n: usize) -> u32 {
    u32::try_from(n.saturating_add(1)).unwrap_or(u32::MAX)
}

/// Split one decoded line (without its line end) into tokens.
fn split_line(number: u32, text: &str) -> Result<Vec<Token<'_>>, LexError> {
    let mut tokens = Vec::new();
    // (byte index, char index) pairs; char index gives the column.
    let mut chars = text.char_indices().enumerate().peekable();
    while let Some((ci, (bi, c))) = chars.next() {
        if is_space(c) {
            continue;
        }
        if c == '#' {
            break;
        }
        if c == '"' {
            let start = bi + 1;
            let mut end = None;
            for (_, (bj, d)) in chars.by_ref() {
                if d == '"' {
                    end = Some(bj);
                    break;
                }
            }
            let Some(end) = end else {
                return Err(LexError::UnterminatedQuote {
                    line: number,
                    column: column(ci),
                });
            };
            tokens.push(Token {
                text: text.get(start..end).unwrap_or(""),
                column: column(ci),
                quoted: true,
            });
            continue;
        }
        // A bare word runs to the next space, `#` or end of line.
        let mut end = text.len();
        while let Some(&(_, (bj, d))) = chars.peek() {
            if is_space(d) || d == '#' {
                end = bj;
                break;
            }
            chars.next();
        }
        tokens.push(Token {
            text: text.get(bi..end).unwrap_or(""),
            column: column(ci),
            quoted: false,
        });
    }
    Ok(tokens)
}

/// The lines of `bytes` that hold at least one word, or the error of each line
/// that cannot be split. Never panics, whatever the bytes.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = Result<Line<'_>, LexError>> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, raw)| {
            let number = u32::try_from(i.saturating_add(1)).unwrap_or(u32::MAX);
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let text = match std::str::from_utf8(raw) {
                Ok(t) => t,
                Err(e) => {
                    let good = raw.get(..e.valid_up_to()).unwrap_or(&[]);
                    let good = std::str::from_utf8(good).unwrap_or("");
                    // A bad byte after a `#` is in a comment and harmless.
                    if comment_started(good) {
                        good
                    } else {
                        return Some(Err(LexError::InvalidUtf8 {
                            line: number,
                            column: column(good.chars().count()),
                        }));
                    }
                }
            };
            match split_line(number, text) {
                Ok(tokens) if tokens.is_empty() => None,
                Ok(tokens) => Some(Ok(Line { number, tokens })),
                Err(e) => Some(Err(e)),
            }
        })
}

/// Whether `s` contains a comment, by the same rules as `split_line` (a quote only
/// opens a string at the start of a word), so that anything after `s` is comment.
fn comment_started(s: &str) -> bool {
    let mut chars = s.chars();
    let mut word_start = true;
    while let Some(c) = chars.next() {
        if is_space(c) {
            word_start = true;
        } else if c == '#' {
            return true;
        } else if c == '"' && word_start {
            if !chars.by_ref().any(|d| d == '"') {
                return false;
            }
        } else {
            word_start = false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(src: &str) -> Vec<Vec<(&str, u32)>> {
        lines(src.as_bytes())
            .map(|l| {
                l.unwrap()
                    .tokens
                    .into_iter()
                    .map(|t| (t.text, t.column))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn words_columns_comments() {
        assert_eq!(
            words("server 1.2.3.4 perfer   # comment\n"),
            vec![vec![("server", 1), ("1.2.3.4", 8), ("perfer", 16)]]
        );
        assert_eq!(words("# only a comment\n\n   \n\t\n"), Vec::<Vec<_>>::new());
        assert_eq!(words("a#b c"), vec![vec![("a", 1)]]);
        assert_eq!(
            words("\tfudge\t127.127.1.0"),
            vec![vec![("fudge", 2), ("127.127.1.0", 8)]]
        );
    }

    #[test]
    fn crlf_and_line_numbers() {
        let ls: Vec<_> = lines(b"a\r\n\r\nb c\r\n").map(|l| l.unwrap()).collect();
        assert_eq!(ls.len(), 2);
        assert_eq!(ls[0].number, 1);
        assert_eq!(ls[0].tokens[0].text, "a");
        assert_eq!(ls[1].number, 3);
        assert_eq!(ls[1].tokens[1].text, "c");
    }

    #[test]
    fn quotes() {
        let ls: Vec<_> = lines(b"driftfile \"/var/lib/my drift\" # x").collect();
        let l = ls[0].as_ref().unwrap();
        assert_eq!(l.tokens[1].text, "/var/lib/my drift");
        assert!(l.tokens[1].quoted);
        assert_eq!(l.tokens[1].column, 11);
        let ls: Vec<_> = lines(b"driftfile \"/var/lib").collect();
        assert_eq!(
            ls[0],
            Err(LexError::UnterminatedQuote {
                line: 1,
                column: 11
            })
        );
        // `#` inside quotes is not a comment.
        assert_eq!(words("a \"b#c\""), vec![vec![("a", 1), ("b#c", 3)]]);
    }

    #[test]
    fn utf8() {
        let ls: Vec<_> = lines(b"ok\nserver \xff\nok # caf\xe9\n").collect();
        assert!(ls[0].is_ok());
        assert_eq!(ls[1], Err(LexError::InvalidUtf8 { line: 2, column: 8 }));
        assert_eq!(ls[2].as_ref().unwrap().tokens.len(), 1);
        // Columns count characters, not bytes.
        assert_eq!(words("# é\né x"), vec![vec![("é", 1), ("x", 3)]]);
    }
}

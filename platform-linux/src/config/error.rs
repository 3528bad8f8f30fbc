//! Diagnostics: every error and warning carries the file, line and column it is about,
//! a message, and a hint that tells the admin what to do.
//!
//! Errors reject the configuration; warnings are printed and the configuration is
//! used anyway (the cases where ntpd, too, logs and carries on).
//!
//! Everything a diagnostic shows of the file (words, paths) passes through
//! [`crate::config::escape`]: a NUL, ESC or other control byte on a line is shown as `\0`,
//! `\x1b`, …, never written raw to a terminal or a log.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::config::escape::escape;

/// Where in which file a diagnostic points. Lines and columns count from 1; column
/// counts characters (a tab is one column), as editors' "go to column" does.
///
/// Line 0 means the whole file (it could not be read at all).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file, as named by the command line or the `includefile` that led to it.
    pub path: PathBuf,
    /// 1-based line number; 0 for "the whole file".
    pub line: u32,
    /// 1-based column in characters; 0 for "the whole line/file".
    pub column: u32,
}

impl Location {
    /// A location inside `path`.
    pub fn new(path: impl Into<PathBuf>, line: u32, column: u32) -> Self {
        Location {
            path: path.into(),
            line,
            column,
        }
    }

    /// The whole file (used when the file itself cannot be read).
    pub fn file(path: &Path) -> Self {
        Location::new(path, 0, 0)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A path comes from the command line or from an `includefile`/`keys` line.
        let shown = self.path.display().to_string();
        let path = escape(&shown);
        match (self.line, self.column) {
            (0, _) => write!(f, "{path}"),
            (l, 0) => write!(f, "{path}:{l}"),
            (l, c) => write!(f, "{path}:{l}:{c}"),
        }
    }
}

/// What went wrong. `message()` is the one-line statement, `hint()` what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file (main file, never an `includefile`) could not be read.
    Unreadable {
        /// The OS error, as text.
        reason: String,
    },
    /// The file is larger than slew is willing to read (guards against
    /// `includefile /dev/zero` and friends).
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A line is not valid UTF-8.
    InvalidUtf8,
    /// A `"` opened a quoted string that the line never closes.
    UnterminatedQuote,
    /// The first word of a line is no directive slew or ntpd knows.
    UnknownDirective {
        /// The word as written.
        word: String,
        /// The nearest known directive, if one is close enough.
        suggestion: Option<&'static str>,
    },
    /// A directive, option or flag ntpd knows and slew does not implement. Refused
    /// rather than skipped: silently ignoring it would change what the admin asked for.
    Unsupported {
        /// The word, e.g. `broadcast` or `autokey`.
        word: String,
        /// What it is: "directive", "option of `server`", ...
        what: String,
    },
    /// An option word that the directive does not take.
    UnknownOption {
        /// The directive, e.g. `server`.
        directive: &'static str,
        /// The word as written.
        word: String,
        /// The nearest known option, if one is close enough.
        suggestion: Option<&'static str>,
    },
    /// A directive or option needs an argument and the line ended.
    MissingArgument {
        /// The directive or option.
        after: String,
        /// What was expected, e.g. "a number from 3 to 17".
        expected: String,
    },
    /// A number that is not a number or is out of range.
    InvalidNumber {
        /// The option or directive it belongs to.
        after: String,
        /// The text as written.
        value: String,
        /// What was expected.
        expected: String,
    },
    /// An address that is neither an IP address nor a host name.
    InvalidAddress {
        /// The text as written.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// A word that is not a valid value for its position (file type, stats name...).
    InvalidValue {
        /// The directive or option.
        after: String,
        /// The text as written.
        value: String,
        /// What was expected.
        expected: String,
        /// The nearest valid value, if close enough.
        suggestion: Option<&'static str>,
    },
    /// More arguments than the directive takes.
    UnexpectedArgument {
        /// The directive.
        directive: &'static str,
        /// The extra word.
        word: String,
    },
    /// Two parts of a line (or of the file) contradict each other.
    Conflict {
        /// What contradicts what.
        message: String,
        /// What to do about it.
        hint: String,
    },
    /// `fudge` names a clock that no `server` line declares.
    FudgeWithoutServer {
        /// The address as written.
        address: String,
    },
    /// A refclock driver other than the LOCAL clock (127.127.1.u).
    UnsupportedRefclock {
        /// The driver type (third octet).
        driver: u8,
    },
    /// `includefile` nested deeper than the limit.
    IncludeTooDeep {
        /// The limit.
        limit: usize,
    },
    /// More `includefile`s read in total than the limit (a fan-out of includes).
    TooManyIncludes {
        /// The limit.
        limit: usize,
    },
    /// `includefile` would include a file that is already being read.
    IncludeCycle {
        /// The chain of files, outermost first, ending with the repeated one.
        chain: Vec<PathBuf>,
    },
    /// A line of a keys file is malformed.
    BadKey {
        /// Why.
        reason: String,
        /// What to do.
        hint: String,
    },
    /// Too many errors; the rest were not collected.
    TooManyErrors {
        /// The number kept.
        limit: usize,
    },
}

/// A word as quoted in a message: long words (hostile or binary input) are cut, so
/// that one diagnostic stays one readable line.
fn short(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", s.get(..i).unwrap_or("")),
        None => s.to_string(),
    }
}

fn did_you_mean(s: Option<&'static str>) -> String {
    match s {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

impl ErrorKind {
    /// The one-line statement of the problem, control characters escaped (the
    /// words it quotes come from the file).
    pub fn message(&self) -> String {
        escape(&self.raw_message()).into_owned()
    }

    /// What the admin should do about it, control characters escaped.
    pub fn hint(&self) -> String {
        escape(&self.raw_hint()).into_owned()
    }

    fn raw_message(&self) -> String {
        match self {
            ErrorKind::Unreadable { reason } => format!("cannot read the file: {reason}"),
            ErrorKind::TooLarge { limit } => {
                format!("the file is larger than {limit} bytes")
            }
            ErrorKind::InvalidUtf8 => "this line is not valid UTF-8".into(),
            ErrorKind::UnterminatedQuote => "unterminated quoted string".into(),
            ErrorKind::UnknownDirective { word, suggestion } => {
                format!(
                    "unknown directive `{}`{}",
                    short(word),
                    did_you_mean(*suggestion)
                )
            }
            ErrorKind::Unsupported { word, what } => {
                format!("slew does not support the {what} `{}` yet", short(word))
            }
            ErrorKind::UnknownOption {
                directive,
                word,
                suggestion,
            } => format!(
                "unknown option `{}` for `{directive}`{}",
                short(word),
                did_you_mean(*suggestion)
            ),
            ErrorKind::MissingArgument { after, expected } => {
                format!("`{after}` needs {expected}")
            }
            ErrorKind::InvalidNumber {
                after,
                value,
                expected,
            } => format!(
                "invalid value `{}` for `{after}`: expected {expected}",
                short(value)
            ),
            ErrorKind::InvalidAddress { value, reason } => {
                format!("invalid address `{}`: {reason}", short(value))
            }
            ErrorKind::InvalidValue {
                after,
                value,
                expected,
                suggestion,
            } => format!(
                "invalid value `{}` for `{after}`: expected {expected}{}",
                short(value),
                did_you_mean(*suggestion)
            ),
            ErrorKind::UnexpectedArgument { directive, word } => {
                format!("unexpected argument `{}` for `{directive}`", short(word))
            }
            ErrorKind::Conflict { message, .. } => message.clone(),
            ErrorKind::FudgeWithoutServer { address } => {
                format!("`fudge {address}` names a clock that no `server` line declares")
            }
            ErrorKind::UnsupportedRefclock { driver } => format!(
                "slew does not support reference clock driver type {driver} yet \
                 (LOCAL 127.127.1.u, NMEA 127.127.20.u and SHM 127.127.28.u)"
            ),
            ErrorKind::IncludeTooDeep { limit } => {
                format!("`includefile` nested more than {limit} levels deep")
            }
            ErrorKind::TooManyIncludes { limit } => {
                format!("more than {limit} `includefile`s read in all")
            }
            ErrorKind::IncludeCycle { chain } => {
                let names: Vec<String> = chain.iter().map(|p| p.display().to_string()).collect();
                format!("`includefile` cycle: {}", names.join(" includes "))
            }
            ErrorKind::BadKey { reason, .. } => reason.clone(),
            ErrorKind::TooManyErrors { limit } => {
                format!("more than {limit} errors; stopped collecting them")
            }
        }
    }

    fn raw_hint(&self) -> String {
        match self {
            ErrorKind::Unreadable { .. } => {
                "check the path and that the file is readable by this user".into()
            }
            ErrorKind::TooLarge { .. } => {
                "an ntp.conf is a few kilobytes; check that the path names the right file".into()
            }
            ErrorKind::InvalidUtf8 => "save the file as UTF-8 (or plain ASCII)".into(),
            ErrorKind::UnterminatedQuote => "close the string with `\"` on the same line".into(),
            ErrorKind::UnknownDirective { suggestion, .. } => match suggestion {
                Some(s) => format!("replace it with `{s}`, or comment the line out with `#`"),
                None => "check the spelling against ntp.conf(5), or comment the line out with `#`"
                    .into(),
            },
            ErrorKind::Unsupported { .. } => {
                "remove the word or comment the line out with `#`; slew would not do what it asks"
                    .into()
            }
            ErrorKind::UnknownOption {
                directive,
                suggestion,
                ..
            } => match suggestion {
                Some(s) => format!("replace it with `{s}`"),
                None => format!("remove it; see ntp.conf(5) for the options of `{directive}`"),
            },
            ErrorKind::MissingArgument { expected, .. } => format!("add {expected}"),
            ErrorKind::InvalidNumber { expected, .. } => format!("write {expected}"),
            ErrorKind::InvalidAddress { .. } => {
                "write an IPv4 or IPv6 address, or a host name".into()
            }
            ErrorKind::InvalidValue {
                expected,
                suggestion,
                ..
            } => match suggestion {
                Some(s) => format!("replace it with `{s}`"),
                None => format!("write {expected}"),
            },
            ErrorKind::UnexpectedArgument { .. } => "remove the extra word".into(),
            ErrorKind::Conflict { hint, .. } => hint.clone(),
            ErrorKind::FudgeWithoutServer { address } => {
                format!("add `server {address}`, or remove the `fudge` line")
            }
            ErrorKind::UnsupportedRefclock { .. } => {
                "remove the line; for a local fallback clock use `server 127.127.1.0`".into()
            }
            ErrorKind::IncludeTooDeep { .. } => {
                "flatten the includes; a loop of includes also ends here".into()
            }
            ErrorKind::TooManyIncludes { .. } => {
                "include each file once; check for a file included many times over".into()
            }
            ErrorKind::IncludeCycle { .. } => "remove one of the `includefile` lines".into(),
            ErrorKind::BadKey { hint, .. } => hint.clone(),
            ErrorKind::TooManyErrors { .. } => {
                "fix the errors above, or check that the path names an ntp.conf".into()
            }
        }
    }
}

/// An error in a configuration or keys file: the configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where.
    pub location: Location,
    /// What.
    pub kind: ErrorKind,
}

impl ConfigError {
    /// An error at `location`.
    pub fn new(location: Location, kind: ErrorKind) -> Self {
        ConfigError { location, kind }
    }
}

/// `FILE:LINE:COL: error: MESSAGE` and, on the next line, `  hint: WHAT TO DO`.
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: error: {}\n  hint: {}",
            self.location,
            self.kind.message(),
            self.kind.hint()
        )
    }
}

impl std::error::Error for ConfigError {}

/// Something worth telling the admin that does not stop slew from using the file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WarningKind {
    /// An `includefile` target could not be read; like ntpd, slew carries on without it.
    IncludeUnreadable {
        /// The resolved path.
        path: PathBuf,
        /// The OS error, as text.
        reason: String,
    },
    /// The `keys` file could not be read; authenticated associations will fail.
    KeysUnreadable {
        /// The resolved path.
        path: PathBuf,
        /// The OS error, as text.
        reason: String,
    },
    /// The keys file may be read or written by others (or written by its group):
    /// its secrets are not secret. ntpd warns and uses it; so does slew.
    KeysPermissive {
        /// The resolved path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A directive that takes effect once was given again; the last one wins, as in ntpd.
    Repeated {
        /// The directive.
        directive: &'static str,
        /// Where it was given first.
        first: Location,
    },
    /// Something that is accepted but has no effect.
    NoEffect {
        /// What.
        message: String,
        /// Why / what to do.
        hint: String,
    },
    /// A key id used by the configuration is not in the keys file.
    UnknownKeyId {
        /// The key id.
        id: u32,
        /// Which directive uses it.
        used_by: &'static str,
    },
}

impl WarningKind {
    /// The one-line statement, control characters escaped.
    pub fn message(&self) -> String {
        escape(&self.raw_message()).into_owned()
    }

    /// What to do about it, control characters escaped.
    pub fn hint(&self) -> String {
        escape(&self.raw_hint()).into_owned()
    }

    fn raw_message(&self) -> String {
        match self {
            WarningKind::IncludeUnreadable { path, reason } => {
                format!(
                    "cannot read includefile {}: {reason}; skipping it",
                    path.display()
                )
            }
            WarningKind::KeysUnreadable { path, reason } => {
                format!("cannot read keys file {}: {reason}", path.display())
            }
            WarningKind::KeysPermissive { path, mode } => {
                let mut who = Vec::new();
                if mode & 0o004 != 0 {
                    who.push("readable by everyone");
                }
                if mode & 0o002 != 0 {
                    who.push("writable by everyone");
                }
                if mode & 0o001 != 0 && mode & 0o006 == 0 {
                    who.push("open to everyone");
                }
                if mode & 0o020 != 0 {
                    who.push("writable by its group");
                }
                format!(
                    "keys file {} has mode {mode:04o}: {}; its secrets are not secret",
                    path.display(),
                    who.join(", ")
                )
            }
            WarningKind::Repeated { directive, first } => {
                format!("`{directive}` given again (first at {first}); the last one wins")
            }
            WarningKind::NoEffect { message, .. } => message.clone(),
            WarningKind::UnknownKeyId { id, used_by } => {
                format!("key {id} used by `{used_by}` is not in the keys file")
            }
        }
    }

    fn raw_hint(&self) -> String {
        match self {
            WarningKind::IncludeUnreadable { .. } => {
                "create the file or remove the `includefile` line (ntpd also skips it)".into()
            }
            WarningKind::KeysUnreadable { .. } => {
                "create the keys file (see ntp.keys(5)) or remove the `keys` line".into()
            }
            WarningKind::KeysPermissive { path, .. } => format!(
                "chmod 600 {0} (640 if a group must read it) and make root, or the user slewd runs as, its owner: chown root {0}; the file is used anyway, as ntpd does",
                path.display()
            ),
            WarningKind::Repeated { .. } => "remove one of the two lines".into(),
            WarningKind::NoEffect { hint, .. } => hint.clone(),
            WarningKind::UnknownKeyId { .. } => {
                "add the key to the keys file, or fix the key number".into()
            }
        }
    }
}

/// A warning with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Where.
    pub location: Location,
    /// What.
    pub kind: WarningKind,
}

/// `FILE:LINE:COL: warning: MESSAGE` and `  hint: WHAT TO DO`.
impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: warning: {}\n  hint: {}",
            self.location,
            self.kind.message(),
            self.kind.hint()
        )
    }
}

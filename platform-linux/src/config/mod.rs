//! The ntp.conf dialect of slew: parse an ntpd-style configuration into a typed
//! [`Config`].
//!
//! A pure module: the only I/O is reading the configuration, its `includefile`s and
//! its `keys` file, all through a [`Loader`] ([`FsLoader`] for the real filesystem),
//! so tests and fuzz targets can parse with no filesystem at all.
//!
//! ```no_run
//! use slew_linux::config;
//! match config::parse_file("/etc/ntp.conf".as_ref()) {
//!     Ok(parsed) => {
//!         for w in &parsed.warnings {
//!             eprintln!("{w}");
//!         }
//!         let _sources = &parsed.config.sources;
//!     }
//!     Err(rejected) => {
//!         for e in &rejected.errors {
//!             eprintln!("{e}"); // FILE:LINE:COL: error: MESSAGE / hint: …
//!         }
//!     }
//! }
//! ```
//!
//! # The dialect
//!
//! What ntpd 4.2.8 accepts for the directives a CentOS ntp.conf holds (see
//! [`Config`]'s fields for the list), with these deliberate differences:
//!
//! - **Everything is reported, nothing skipped.** ntpd logs a syntax error and drops
//!   the line (the article's `server 210.72.145.44 perfer` silently loses a server).
//!   slew collects every error, each with `file:line:column`, a hint, and a "did you
//!   mean" for near-miss keywords, and refuses the configuration.
//! - **Unsupported is an error.** Directives, options and flags ntpd has and slew
//!   does not (broadcast, manycast, autokey `crypto`, `server … autokey`, …) are
//!   refused by name.
//! - **Relative paths** (`includefile`, `keys`, `driftfile`, …) are taken from the
//!   directory of the file they are written in; ntpd takes them from its working
//!   directory.
//! - **Ranges are checked**: `minpoll`/`maxpoll` outside 3..=17, `minpoll > maxpoll`,
//!   `stratum` above 15 are errors where ntpd clamps.
//! - **Warnings, not errors**, where ntpd carries on: an unreadable `includefile`
//!   (the stock `/etc/ntp/crypto/pw` is root-only or absent) or `keys` file, a
//!   directive repeated (the last wins), `kod` without `limited`, address bits
//!   outside a `restrict` mask.
//! - **Whole-file checks are errors**: a `fudge` for a clock no `server` line declares,
//!   a local clock unit declared twice, a malformed line in the `keys` file (ntpd logs
//!   and skips the key, which then fails authentication later and quietly).
//! - Keywords are case-sensitive, as in ntpd; `Server` gets "did you mean `server`?".
//! - `server ADDR port N` is slew's extension for servers on other ports.
//!
//! Lexical rules: `#` starts a comment anywhere outside a quoted string, words are
//! separated by blanks, `"quoted strings"` hold paths with spaces, CRLF line ends are
//! accepted, and a line that is not UTF-8 is an error of its own.
//!
//! The parser never panics, whatever the input (fuzzed and property-tested), and
//! bounds its work: files over [`MAX_FILE_SIZE`], includes deeper than
//! [`MAX_INCLUDE_DEPTH`] or more than [`MAX_INCLUDES`] in all, and more than [`MAX_ERRORS`] errors stop it cleanly.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod directives;
mod error;
pub mod escape;
pub mod keys;
mod lexer;
mod misc;
mod model;
mod nts;
mod parser;
mod refclocks;
mod restrict;
mod sources;
mod suggest;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use error::{ConfigError, ConfigWarning, ErrorKind, Location, WarningKind};
pub use keys::parse_keys;
pub use model::*;
pub use nts::NtsConfig;
pub use parser::{
    FsLoader, Loader, MemLoader, ReadError, MAX_ERRORS, MAX_FILE_SIZE, MAX_INCLUDES,
    MAX_INCLUDE_DEPTH,
};

/// A configuration that parsed, and what is worth telling the admin about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The configuration.
    pub config: Config,
    /// Warnings, in the order found.
    pub warnings: Vec<ConfigWarning>,
}

/// A configuration that did not parse: every error found (at least one), and the
/// warnings, so that `--check-config` can print them all.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The errors, in the order found.
    pub errors: Vec<ConfigError>,
    /// The warnings, in the order found.
    pub warnings: Vec<ConfigWarning>,
}

impl std::fmt::Display for Rejected {
    /// Every error and warning, one diagnostic (two lines) each.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for e in &self.errors {
            writeln!(f, "{e}")?;
        }
        for w in &self.warnings {
            writeln!(f, "{w}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejected {}

/// Parses `text` as `/etc/ntp.conf` and panics on errors: the other modules' tests
/// build their configurations with it.
#[cfg(test)]
pub(crate) fn test_config(text: &str) -> Config {
    match parse_str(text, Path::new("/etc/ntp.conf")) {
        Ok(parsed) => parsed.config,
        Err(rejected) => panic!("test configuration does not parse:\n{rejected}"),
    }
}

/// Read and parse the configuration file at `path`, with its includes and keys file.
pub fn parse_file(path: &Path) -> Result<Parsed, Rejected> {
    parse_file_with(path, &mut FsLoader)
}

/// Like [`parse_file`], reading files through `loader`.
pub fn parse_file_with(path: &Path, loader: &mut dyn Loader) -> Result<Parsed, Rejected> {
    match loader.read(path) {
        Ok(bytes) => parse_with(&bytes, path, loader),
        Err(e) => {
            let kind = match e {
                ReadError::Io(e) => ErrorKind::Unreadable {
                    reason: e.to_string(),
                },
                ReadError::TooLarge => ErrorKind::TooLarge {
                    limit: MAX_FILE_SIZE,
                },
            };
            Err(Rejected {
                errors: vec![ConfigError::new(Location::file(path), kind)],
                warnings: Vec::new(),
            })
        }
    }
}

/// Parse `text` as if it were the contents of the file `path` (used in diagnostics
/// and to resolve relative `includefile`/`keys` paths, which are read from the
/// filesystem). For tests and fuzzing; the daemon uses [`parse_file`].
pub fn parse_str(text: &str, path: &Path) -> Result<Parsed, Rejected> {
    parse_with(text.as_bytes(), path, &mut FsLoader)
}

/// Parse `bytes` as the contents of `path`, reading includes and keys through
/// `loader`. Never panics, whatever the bytes.
pub fn parse_with(bytes: &[u8], path: &Path, loader: &mut dyn Loader) -> Result<Parsed, Rejected> {
    let mut p = parser::Parser::new(loader);
    p.run_main(bytes, path);
    p.finish()
}

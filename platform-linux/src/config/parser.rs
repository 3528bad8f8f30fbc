//! The parser's state: the configuration being built, the diagnostics collected so
//! far, and the stack of files being read (for `includefile`).
//!
//! Directive handlers live in `directives.rs`, `restrict.rs` and `misc.rs`, each an
//! `impl Parser` block; this file holds what they share and the include machinery.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use super::error::{ConfigError, ConfigWarning, ErrorKind, Location, WarningKind};
use super::keys::KeyId;
use super::lexer::{self, LexError, Line, Token};
use super::model::{Config, Located};
use super::{Parsed, Rejected};

/// How deep `includefile` may nest below the main file. ntpd's `MAXINCLUDELEVEL`
/// is 5; slew uses the same.
pub const MAX_INCLUDE_DEPTH: usize = 5;

/// The largest file slew reads (main, include or keys): an ntp.conf is a few KB;
/// the limit stops `includefile /dev/zero` from eating memory.
pub const MAX_FILE_SIZE: usize = 1 << 20;

/// At most this many `includefile`s are read in all: the depth limit alone would let
/// a few files that each include the next many times cost N^5 reads.
pub const MAX_INCLUDES: usize = 256;

/// After this many errors the parser stops collecting (hostile or wrong input).
pub const MAX_ERRORS: usize = 500;

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The OS said no.
    Io(io::Error),
    /// Larger than [`MAX_FILE_SIZE`].
    TooLarge,
}

/// Where the parser gets files from. The real one is [`FsLoader`]; tests and fuzz
/// targets can serve files from memory so that parsing needs no filesystem at all.
pub trait Loader {
    /// The file's contents.
    fn read(&mut self, path: &Path) -> Result<Vec<u8>, ReadError>;
    /// A name that is the same for every path naming the same file, used to detect
    /// include cycles. The default normalises `.` and `..` lexically.
    fn identity(&mut self, path: &Path) -> PathBuf {
        normalize(path)
    }
    /// The file's permission bits (`st_mode & 0o7777`), when the loader knows them:
    /// a keys file others may read is warned about.
    fn mode(&mut self, _path: &Path) -> Option<u32> {
        None
    }
}

/// Reads from the filesystem, at most [`MAX_FILE_SIZE`] bytes per file; identities
/// are canonical paths (symlinks resolved), so a cycle through a symlink is caught.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsLoader;

impl Loader for FsLoader {
    fn read(&mut self, path: &Path) -> Result<Vec<u8>, ReadError> {
        let file = std::fs::File::open(path).map_err(ReadError::Io)?;
        let mut buf = Vec::new();
        let limit = u64::try_from(MAX_FILE_SIZE).unwrap_or(u64::MAX);
        file.take(limit.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(ReadError::Io)?;
        if buf.len() > MAX_FILE_SIZE {
            return Err(ReadError::TooLarge);
        }
        Ok(buf)
    }

    fn identity(&mut self, path: &Path) -> PathBuf {
        std::fs::canonicalize(path).unwrap_or_else(|_| normalize(path))
    }

    fn mode(&mut self, path: &Path) -> Option<u32> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
}

/// Files served from memory: for fuzz targets and tests, which must not touch the
/// filesystem. Any path not added reads as "not found"; paths are compared after
/// lexical normalisation.
#[derive(Debug, Default, Clone)]
pub struct MemLoader {
    files: std::collections::HashMap<PathBuf, Vec<u8>>,
    modes: std::collections::HashMap<PathBuf, u32>,
}

impl MemLoader {
    /// Serve `bytes` as the file at `path`.
    pub fn add(&mut self, path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) {
        self.files
            .insert(normalize(path.as_ref()), bytes.as_ref().to_vec());
    }

    /// Give the file at `path` these permission bits (none known otherwise).
    pub fn set_mode(&mut self, path: impl AsRef<Path>, mode: u32) {
        self.modes.insert(normalize(path.as_ref()), mode);
    }
}

impl Loader for MemLoader {
    fn read(&mut self, path: &Path) -> Result<Vec<u8>, ReadError> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| ReadError::Io(io::Error::from(io::ErrorKind::NotFound)))
    }

    fn mode(&mut self, path: &Path) -> Option<u32> {
        self.modes.get(&normalize(path)).copied()
    }
}

/// Lexical normalisation: drop `.`, resolve `..` against what precedes it.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub(super) struct Parser<'l> {
    loader: &'l mut dyn Loader,
    pub(super) config: Config,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigWarning>,
    /// Identities of the files being read, outermost first, with their paths.
    stack: Vec<(PathBuf, PathBuf)>,
    /// How many includes were read so far.
    includes: usize,
    /// The file being read, as it is named in diagnostics.
    pub(super) file: PathBuf,
    /// The line being read.
    pub(super) line: u32,
    /// `fudge` lines, resolved once every `server` line is known (ntpd, too, applies
    /// fudges after all associations, whatever the order in the file).
    pub(super) fudges: Vec<super::sources::PendingFudge>,
    /// `fudge` lines for NMEA/SHM refclocks, applied after all `server` lines.
    pub(super) refclock_fudges: Vec<super::refclocks::PendingRefclockFudge>,
    /// LOCAL clock units whose `server` line had errors.
    pub(super) failed_clocks: Vec<u8>,
    /// Key ids used by directives, checked against the keys file at the end.
    pub(super) key_uses: Vec<(KeyId, Location, &'static str)>,
    /// First location of directives that take effect once.
    pub(super) seen: HashMap<&'static str, Location>,
}

impl<'l> Parser<'l> {
    pub(super) fn new(loader: &'l mut dyn Loader) -> Self {
        Parser {
            loader,
            config: Config::default(),
            errors: Vec::new(),
            warnings: Vec::new(),
            stack: Vec::new(),
            includes: 0,
            file: PathBuf::new(),
            line: 0,
            fudges: Vec::new(),
            refclock_fudges: Vec::new(),
            failed_clocks: Vec::new(),
            key_uses: Vec::new(),
            seen: HashMap::new(),
        }
    }

    /// A location on the current line.
    pub(super) fn at(&self, column: u32) -> Location {
        Location::new(&self.file, self.line, column)
    }

    /// Record an error at a column of the current line.
    pub(super) fn err(&mut self, column: u32, kind: ErrorKind) {
        let loc = self.at(column);
        self.push_error(ConfigError::new(loc, kind));
    }

    pub(super) fn push_error(&mut self, e: ConfigError) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        } else if self.errors.len() == MAX_ERRORS {
            let loc = e.location.clone();
            self.errors.push(ConfigError::new(
                loc,
                ErrorKind::TooManyErrors { limit: MAX_ERRORS },
            ));
        }
    }

    /// Record a warning at a column of the current line.
    pub(super) fn warn(&mut self, column: u32, kind: WarningKind) {
        let location = self.at(column);
        self.push_warning(ConfigWarning { location, kind });
    }

    pub(super) fn push_warning(&mut self, w: ConfigWarning) {
        // Warnings are bounded like errors, for the same reason.
        if self.warnings.len() < MAX_ERRORS {
            self.warnings.push(w);
        }
    }

    /// Note a once-only directive; warn if it was given before.
    pub(super) fn once(&mut self, directive: &'static str, column: u32) {
        let here = self.at(column);
        if let Some(first) = self.seen.get(directive).cloned() {
            self.warn(column, WarningKind::Repeated { directive, first });
        } else {
            self.seen.insert(directive, here);
        }
    }

    /// Resolve a path written in the current file: relative paths are taken from the
    /// directory of that file. (ntpd takes them from its working directory, which for a
    /// daemon is usually `/`; relative to the file is what an admin who writes one means.)
    pub(super) fn resolve(&self, written: &str) -> PathBuf {
        let p = Path::new(written);
        if p.is_absolute() {
            return p.to_path_buf();
        }
        match self.file.parent() {
            Some(dir) => dir.join(p),
            None => p.to_path_buf(),
        }
    }

    /// A path argument: resolved and located.
    pub(super) fn path_value(&self, tok: &Token<'_>) -> Located<PathBuf> {
        Located {
            value: self.resolve(tok.text),
            at: self.at(tok.column),
        }
    }

    pub(super) fn read(&mut self, path: &Path) -> Result<Vec<u8>, ReadError> {
        self.loader.read(path)
    }

    pub(super) fn loader_mode(&mut self, path: &Path) -> Option<u32> {
        self.loader.mode(path)
    }

    /// Parse the main file's contents.
    pub(super) fn run_main(&mut self, bytes: &[u8], path: &Path) {
        let id = self.loader.identity(path);
        self.config.files.push(path.to_path_buf());
        self.stack.push((id, path.to_path_buf()));
        self.file = path.to_path_buf();
        self.parse_bytes(bytes);
        self.stack.pop();
    }

    fn parse_bytes(&mut self, bytes: &[u8]) {
        for line in lexer::lines(bytes) {
            match line {
                Ok(line) => {
                    self.line = line.number;
                    self.directive(&line);
                }
                Err(LexError::InvalidUtf8 { line, column }) => {
                    self.line = line;
                    self.err(column, ErrorKind::InvalidUtf8);
                }
                Err(LexError::UnterminatedQuote { line, column }) => {
                    self.line = line;
                    self.err(column, ErrorKind::UnterminatedQuote);
                }
            }
        }
    }

    /// `includefile PATH`: read PATH in place, as if its lines were here.
    pub(super) fn includefile(&mut self, line: &Line<'_>) {
        let Some(tok) = self.single_arg(line, "includefile", "a file name") else {
            return;
        };
        let path = self.resolve(tok.text);
        // The stack holds the main file too, so its length is the depth of the new file.
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            self.err(
                tok.column,
                ErrorKind::IncludeTooDeep {
                    limit: MAX_INCLUDE_DEPTH,
                },
            );
            return;
        }
        if self.includes >= MAX_INCLUDES {
            // Said once; the lines after it would only repeat it.
            if self.includes == MAX_INCLUDES {
                self.includes += 1;
                let limit = MAX_INCLUDES;
                self.err(tok.column, ErrorKind::TooManyIncludes { limit });
            }
            return;
        }
        let id = self.loader.identity(&path);
        if self.stack.iter().any(|(i, _)| *i == id) {
            let mut chain: Vec<PathBuf> = self.stack.iter().map(|(_, p)| p.clone()).collect();
            chain.push(path);
            self.err(tok.column, ErrorKind::IncludeCycle { chain });
            return;
        }
        let bytes = match self.loader.read(&path) {
            Ok(b) => b,
            Err(e) => {
                let reason = match e {
                    ReadError::Io(e) => e.to_string(),
                    ReadError::TooLarge => format!("larger than {MAX_FILE_SIZE} bytes"),
                };
                self.warn(tok.column, WarningKind::IncludeUnreadable { path, reason });
                return;
            }
        };
        self.includes += 1;
        let saved = (std::mem::replace(&mut self.file, path.clone()), self.line);
        self.config.files.push(path.clone());
        self.stack.push((id, path));
        self.parse_bytes(&bytes);
        self.stack.pop();
        (self.file, self.line) = saved;
    }

    /// The one argument of a directive that takes exactly one; errors otherwise.
    pub(super) fn single_arg<'t, 'a>(
        &mut self,
        line: &'t Line<'a>,
        directive: &'static str,
        expected: &str,
    ) -> Option<&'t Token<'a>> {
        let args = line.tokens.get(1..).unwrap_or(&[]);
        let Some(first) = args.first() else {
            self.missing(line, directive, expected);
            return None;
        };
        if let Some(extra) = args.get(1) {
            self.err(
                extra.column,
                ErrorKind::UnexpectedArgument {
                    directive,
                    word: extra.text.to_string(),
                },
            );
            return None;
        }
        Some(first)
    }

    /// "`after` needs `expected`", pointing just past the end of the line.
    pub(super) fn missing(&mut self, line: &Line<'_>, after: &str, expected: &str) {
        self.err(
            end_column(line),
            ErrorKind::MissingArgument {
                after: after.to_string(),
                expected: expected.to_string(),
            },
        );
    }

    /// Check everything that needs the whole file, and hand out the result.
    pub(super) fn finish(mut self) -> Result<Parsed, Rejected> {
        self.resolve_fudges();
        self.check_nts();
        self.resolve_refclock_fudges();
        self.check_key_uses();
        if self.errors.is_empty() {
            Ok(Parsed {
                config: self.config,
                warnings: self.warnings,
            })
        } else {
            Err(Rejected {
                errors: self.errors,
                warnings: self.warnings,
            })
        }
    }

    fn check_key_uses(&mut self) {
        let Some(file) = self.config.keys.as_ref().and_then(|k| k.file.as_ref()) else {
            return;
        };
        let unknown: Vec<_> = self
            .key_uses
            .iter()
            .filter(|(id, _, _)| file.get(*id).is_none())
            .cloned()
            .collect();
        for (id, location, used_by) in unknown {
            self.push_warning(ConfigWarning {
                location,
                kind: WarningKind::UnknownKeyId {
                    id: u32::from(id),
                    used_by,
                },
            });
        }
    }
}

/// The column just past the last word of a line (where a missing argument belongs).
pub(super) fn end_column(line: &Line<'_>) -> u32 {
    line.tokens.last().map_or(1, |t| {
        let len = u32::try_from(t.text.chars().count()).unwrap_or(u32::MAX);
        // Quoted words also have their two quotes.
        let quotes = if t.quoted { 2 } else { 0 };
        t.column.saturating_add(len).saturating_add(quotes)
    })
}

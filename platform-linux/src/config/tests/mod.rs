//! Tests of the ntp.conf parser: fixtures, directives, errors, includes, hostile input.

use std::path::Path;

pub(super) use super::MemLoader;

mod directives;
mod errors;
mod escapes;
mod fixtures;
mod hostile;
mod includes;

/// The path the tests' main file pretends to have.
pub(super) const MAIN: &str = "/etc/ntp.conf";

/// Parse `text` as /etc/ntp.conf with `files` as the whole filesystem.
pub(super) fn parse_mem(
    text: &str,
    mut files: MemLoader,
) -> Result<super::Parsed, super::Rejected> {
    super::parse_with(text.as_bytes(), Path::new(MAIN), &mut files)
}

/// Parse, expecting success.
pub(super) fn ok_with(text: &str, files: MemLoader) -> super::Parsed {
    match parse_mem(text, files) {
        Ok(p) => p,
        Err(r) => panic!("expected success, got:\n{r}"),
    }
}

/// Parse with no other files, expecting success; the configuration.
pub(super) fn ok(text: &str) -> super::Config {
    ok_with(text, MemLoader::default()).config
}

/// Parse with no other files, expecting failure; the errors.
pub(super) fn errs(text: &str) -> Vec<super::ConfigError> {
    match parse_mem(text, MemLoader::default()) {
        Ok(p) => panic!("expected errors, got {:#?}", p.config),
        Err(r) => r.errors,
    }
}

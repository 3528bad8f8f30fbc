//! Tests of the ntp.conf parser: fixtures, directives, errors, includes, hostile input.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use super::parser::{normalize, Loader, ReadError};

mod fixtures;

/// Files served from memory; anything else is "not found".
#[derive(Debug, Default)]
pub(super) struct MemLoader {
    files: HashMap<PathBuf, Vec<u8>>,
}

impl MemLoader {
    pub(super) fn add(&mut self, path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) {
        self.files
            .insert(normalize(path.as_ref()), bytes.as_ref().to_vec());
    }
}

impl Loader for MemLoader {
    fn read(&mut self, path: &Path) -> Result<Vec<u8>, ReadError> {
        self.files
            .get(&normalize(path))
            .cloned()
            .ok_or_else(|| ReadError::Io(io::Error::from(io::ErrorKind::NotFound)))
    }
}

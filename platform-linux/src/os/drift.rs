//! The driftfile: the clock's frequency error in ppm, one number on one line, as ntpd
//! writes it. Read at start so the discipline can skip its frequency-measuring phase;
//! written periodically and at exit, atomically (a temp file renamed over the old one),
//! so a crash never leaves half a number behind.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The largest frequency a driftfile may claim; beyond it the file is corrupt.
pub const MAX_DRIFT_PPM: f64 = 500.0;

/// Why a driftfile was not used.
#[derive(Debug)]
pub enum DriftError {
    /// It does not exist (the first start: not an error to shout about).
    Missing,
    /// It could not be read.
    Io(io::Error),
    /// It does not hold one number within ±500 ppm.
    Corrupt(String),
}

impl fmt::Display for DriftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(f, "no driftfile yet"),
            Self::Io(e) => write!(f, "{e}"),
            Self::Corrupt(why) => write!(f, "corrupt: {why}"),
        }
    }
}

/// Reads the frequency in ppm from `path`.
pub fn read(path: &Path) -> Result<f64, DriftError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(DriftError::Missing),
        Err(e) => return Err(DriftError::Io(e)),
    };
    parse(&text)
}

/// Parses a driftfile's text.
pub fn parse(text: &str) -> Result<f64, DriftError> {
    let mut words = text.split_whitespace();
    let first = words
        .next()
        .ok_or_else(|| DriftError::Corrupt("empty".into()))?;
    // ntpsec may append a second field; only the first is the frequency.
    let ppm: f64 = first
        .parse()
        .map_err(|_| DriftError::Corrupt(format!("`{first}` is not a number")))?;
    if !ppm.is_finite() || ppm.abs() > MAX_DRIFT_PPM {
        return Err(DriftError::Corrupt(format!(
            "{ppm} ppm is beyond ±{MAX_DRIFT_PPM} ppm"
        )));
    }
    Ok(ppm)
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".TEMP");
    path.with_file_name(name)
}

/// Writes `ppm` to `path` atomically.
pub fn write(path: &Path, ppm: f64) -> io::Result<()> {
    let tmp = temp_path(path);
    {
        let mut f = std::fs::File::create(&tmp)?;
        writeln!(f, "{ppm:.3}")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_atomic_replace() {
        let dir = std::env::temp_dir().join(format!("slew-drift-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("drift");
        assert!(matches!(read(&p), Err(DriftError::Missing)));
        write(&p, -12.345).unwrap();
        assert_eq!(read(&p).unwrap(), -12.345);
        write(&p, 7.0).unwrap();
        assert_eq!(read(&p).unwrap(), 7.0);
        assert!(!temp_path(&p).exists(), "the temp file was renamed away");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_files_are_refused_with_a_reason() {
        for bad in ["", "abc", "1e9", "NaN", "inf", "-600"] {
            let e = parse(bad).unwrap_err();
            assert!(matches!(e, DriftError::Corrupt(_)), "{bad}: {e}");
        }
        assert_eq!(parse("15.125 0.002\n").unwrap(), 15.125);
        assert_eq!(parse("  -3.000\n").unwrap(), -3.0);
    }
}

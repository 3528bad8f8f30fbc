//! The server's master keys: the [`CookieKeys`] that seal and open NTS cookies, shared
//! between the NTS-KE server (seals) and the NTP server path (opens), rotated on a
//! timer and kept in a key file so a restart does not invalidate the clients' cookies.
//!
//! The key file (text, written 0600, atomically: temp file, fsync, rename):
//!
//! ```text
//! slew-nts-keys 1
//! rotated UNIX_SECONDS
//! key ID HEX64        <- the current (sealing) key
//! key ID HEX64        <- the previous one (still opens), if any
//! ```
//!
//! Decision on a bad file: a corrupt file, or one group/world-readable (its keys may
//! have leaked: anyone who read them can forge cookies' contents), is not used. slewd
//! says why with the path ([`LoadOutcome::Replaced`]), makes a fresh key and rewrites
//! the file 0600. The cost is one NTS-KE per client (their cookies NAK), which is
//! what ntpsec does when it cannot read its key file; refusing to start would take
//! the time service down over a file that can simply be remade.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use slew_core::nts::aead::AeadKey;
use slew_core::nts::cookie::{CookieKeys, MasterKey};

use crate::os::entropy::random_bytes;

pub use crate::settings::nts::DEFAULT_ROTATION;

const MAGIC: &str = "slew-nts-keys 1";

/// Why a key file was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyFileError {
    /// Readable by group or others (mode shown, octal).
    Permissions(u32),
    /// Not in the format above (what was wrong).
    Corrupt(String),
    /// Could not be read.
    Read(String),
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyFileError::Permissions(mode) => write!(
                f,
                "is readable by others (mode {mode:o}); its keys are not used, a new key \
                 is made and the file rewritten with mode 600"
            ),
            KeyFileError::Corrupt(why) => write!(
                f,
                "is corrupt ({why}); a new key is made and the file rewritten \
                 (clients' cookies are refused once and they repeat NTS-KE)"
            ),
            KeyFileError::Read(why) => write!(f, "cannot be read ({why})"),
        }
    }
}

/// What [`KeyStore::load_or_create`] did, for the daemon's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadOutcome {
    /// The keys were read from the file.
    Loaded,
    /// No file (or no path configured): a fresh key.
    Created,
    /// The file was not usable (why), a fresh key replaced it.
    Replaced(PathBuf, KeyFileError),
}

impl fmt::Display for LoadOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadOutcome::Loaded => write!(f, "NTS master keys loaded"),
            LoadOutcome::Created => write!(f, "NTS master key created"),
            LoadOutcome::Replaced(path, why) => {
                write!(f, "NTS key file {} {why}", path.display())
            }
        }
    }
}

/// The shared, rotatable master keys. Readers take a clone of the current
/// [`CookieKeys`] (two 36-byte keys) or check [`generation`](Self::generation) to
/// keep a copy and refresh it only after a rotation.
#[derive(Debug)]
pub struct KeyStore {
    keys: RwLock<CookieKeys>,
    generation: AtomicU64,
    rotated: Mutex<SystemTime>,
    path: Option<PathBuf>,
    rotation: Duration,
}

impl KeyStore {
    /// Keys held only in memory (tests; a server without a key file).
    pub fn ephemeral(rotation: Duration) -> Self {
        KeyStore {
            keys: RwLock::new(CookieKeys::new(fresh_key(None))),
            generation: AtomicU64::new(0),
            rotated: Mutex::new(SystemTime::now()),
            path: None,
            rotation,
        }
    }

    /// Reads the key file at `path`, or makes a key and writes the file (0600) when
    /// there is none or it is unusable. Errors only when the file cannot be written.
    pub fn load_or_create(path: &Path, rotation: Duration) -> io::Result<(Self, LoadOutcome)> {
        let (keys, rotated, outcome) = match read_file(path) {
            Ok(Some((keys, rotated))) => (keys, rotated, LoadOutcome::Loaded),
            Ok(None) => (
                CookieKeys::new(fresh_key(None)),
                SystemTime::now(),
                LoadOutcome::Created,
            ),
            Err(why) => (
                CookieKeys::new(fresh_key(None)),
                SystemTime::now(),
                LoadOutcome::Replaced(path.to_path_buf(), why),
            ),
        };
        let store = KeyStore {
            keys: RwLock::new(keys),
            generation: AtomicU64::new(0),
            rotated: Mutex::new(rotated),
            path: Some(path.to_path_buf()),
            rotation,
        };
        if outcome != LoadOutcome::Loaded {
            store.save()?;
        }
        Ok((store, outcome))
    }

    /// The keys now (sealing and the previous one).
    pub fn current(&self) -> CookieKeys {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Bumped by every rotation: a reader that caches [`current`](Self::current)
    /// refreshes when this changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The rotation period.
    pub const fn rotation(&self) -> Duration {
        self.rotation
    }

    /// Makes a new sealing key (the current one still opens) and saves the file.
    pub fn rotate(&self) -> io::Result<()> {
        {
            let mut keys = match self.keys.write() {
                Ok(k) => k,
                Err(poisoned) => poisoned.into_inner(),
            };
            let next = fresh_key(Some(keys.current_id()));
            keys.rotate(next);
        }
        if let Ok(mut r) = self.rotated.lock() {
            *r = SystemTime::now();
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.save()
    }

    /// Rotates if the last rotation is at least one period before `now`. Returns
    /// whether it did. The daemon calls this from a timer (once a minute is plenty).
    pub fn rotate_if_due(&self, now: SystemTime) -> io::Result<bool> {
        let last = self.rotated.lock().map(|r| *r).unwrap_or(UNIX_EPOCH);
        let due = now
            .duration_since(last)
            .is_ok_and(|age| age >= self.rotation);
        if due {
            self.rotate()?;
        }
        Ok(due)
    }

    /// Runs [`rotate_if_due`](Self::rotate_if_due) every `check_every` on a thread
    /// of its own until the handle is dropped. A failed save is handed to `on_error`
    /// (the daemon logs it; the new key is in use either way). `on_rotated` is called
    /// after each rotation (the daemon's loop is woken by it).
    pub fn spawn_rotation(
        self: &Arc<Self>,
        check_every: Duration,
        on_error: impl Fn(io::Error) + Send + 'static,
        on_rotated: impl Fn() + Send + 'static,
    ) -> io::Result<RotationTimer> {
        let (stop, stopped) = mpsc::channel::<()>();
        let store = Arc::clone(self);
        let thread = thread::Builder::new()
            .name("nts-keys".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(check_every) {
                    let before = store.generation();
                    if let Err(e) = store.rotate_if_due(SystemTime::now()) {
                        on_error(e);
                    }
                    if store.generation() != before {
                        on_rotated();
                    }
                }
            })?;
        Ok(RotationTimer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn save(&self) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let keys = self.current();
        let rotated = self.rotated.lock().map(|r| *r).unwrap_or(UNIX_EPOCH);
        write_file(path, &keys, rotated)
    }
}

/// The rotation thread of [`KeyStore::spawn_rotation`]; dropping it stops the thread.
#[derive(Debug)]
pub struct RotationTimer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for RotationTimer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A random key whose id differs from `not_id`.
fn fresh_key(not_id: Option<u32>) -> MasterKey {
    let mut id = u32::from_be_bytes(random_bytes::<4>());
    if Some(id) == not_id {
        id = id.wrapping_add(1);
    }
    MasterKey {
        id,
        key: AeadKey::new(random_bytes::<32>()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn write_file(path: &Path, keys: &CookieKeys, rotated: SystemTime) -> io::Result<()> {
    let secs = rotated
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut text = format!("{MAGIC}\nrotated {secs}\n");
    for k in [Some(keys.current_key()), keys.previous_key()]
        .into_iter()
        .flatten()
    {
        text.push_str(&format!("key {} {}\n", k.id, hex(k.key.as_bytes())));
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)
}

/// `Ok(None)`: no file. `Err`: a file that must not be used.
fn read_file(path: &Path) -> Result<Option<(CookieKeys, SystemTime)>, KeyFileError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(KeyFileError::Read(e.to_string())),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions(mode));
    }
    let text = fs::read_to_string(path).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidData => KeyFileError::Corrupt("not text".into()),
        _ => KeyFileError::Read(e.to_string()),
    })?;
    parse(&text).map(Some).map_err(KeyFileError::Corrupt)
}

fn parse(text: &str) -> Result<(CookieKeys, SystemTime), String> {
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err(format!("first line is not \"{MAGIC}\""));
    }
    let rotated = lines
        .next()
        .and_then(|l| l.strip_prefix("rotated "))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or("second line is not \"rotated SECONDS\"")?;
    let mut keys: Vec<MasterKey> = Vec::new();
    for (n, line) in lines.enumerate() {
        let mut w = line.split_whitespace();
        let (Some("key"), Some(id), Some(k), None) = (w.next(), w.next(), w.next(), w.next())
        else {
            return Err(format!("line {} is not \"key ID HEX\"", n + 3));
        };
        let id = id
            .parse::<u32>()
            .map_err(|_| format!("line {}: bad key id", n + 3))?;
        let key = unhex32(k).ok_or(format!("line {}: key is not 64 hex digits", n + 3))?;
        keys.push(MasterKey {
            id,
            key: AeadKey::new(key),
        });
    }
    let mut it = keys.into_iter();
    let current = it.next().ok_or("no key")?;
    let previous = it.next();
    if it.next().is_some() {
        return Err("more than two keys".into());
    }
    // Rebuild current+previous through the public rotation API.
    let keys = match previous {
        Some(p) => {
            let mut k = CookieKeys::new(p);
            k.rotate(current);
            k
        }
        None => CookieKeys::new(current),
    };
    Ok((keys, UNIX_EPOCH + Duration::from_secs(rotated)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use slew_core::nts::SessionKeys;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("slew-keystore-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d.join("nts.keys")
    }

    fn cookie(keys: &CookieKeys) -> Vec<u8> {
        let s = SessionKeys::from_slices(&[1; 32], &[2; 32]);
        let mut out = [0u8; 200];
        let n = keys.seal(&s, &[7; 16], &mut out).unwrap();
        out[..n].to_vec()
    }

    #[test]
    fn a_restart_keeps_cookies_valid_and_the_file_is_0600() {
        let path = tmp("restart");
        let (a, outcome) = KeyStore::load_or_create(&path, DEFAULT_ROTATION).unwrap();
        assert_eq!(outcome, LoadOutcome::Created);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let before = cookie(&a.current());
        a.rotate().unwrap();
        let after = cookie(&a.current());
        drop(a);
        let (b, outcome) = KeyStore::load_or_create(&path, DEFAULT_ROTATION).unwrap();
        assert_eq!(outcome, LoadOutcome::Loaded);
        // Both the previous key's cookie and the current key's cookie open.
        assert!(b.current().open(&before).is_ok());
        assert!(b.current().open(&after).is_ok());
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!path.with_extension("keys.tmp").exists());
    }

    #[test]
    fn rotation_forgets_the_key_before_the_previous_and_bumps_the_generation() {
        let s = KeyStore::ephemeral(Duration::from_secs(60));
        let first = cookie(&s.current());
        let g = s.generation();
        s.rotate().unwrap();
        assert!(s.current().open(&first).is_ok());
        s.rotate().unwrap();
        assert_eq!(s.generation(), g + 2);
        assert!(s.current().open(&first).is_err());
        assert!(!s.rotate_if_due(SystemTime::now()).unwrap());
        assert!(s
            .rotate_if_due(SystemTime::now() + Duration::from_secs(61))
            .unwrap());
    }

    #[test]
    fn the_rotation_timer_rotates_when_due_and_stops_on_drop() {
        let s = Arc::new(KeyStore::ephemeral(Duration::from_millis(30)));
        let timer = s
            .spawn_rotation(Duration::from_millis(10), |e| panic!("{e}"), || {})
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while s.generation() < 2 && std::time::Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert!(s.generation() >= 2);
        drop(timer);
        let g = s.generation();
        thread::sleep(Duration::from_millis(100));
        assert_eq!(s.generation(), g, "stopped");
    }

    #[test]
    fn a_corrupt_file_is_named_and_replaced() {
        let path = tmp("corrupt");
        fs::write(&path, "slew-nts-keys 1\nrotated 5\nkey 1 zz\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let (_s, outcome) = KeyStore::load_or_create(&path, DEFAULT_ROTATION).unwrap();
        let text = outcome.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(
            text.contains("corrupt") && text.contains("line 3"),
            "{text}"
        );
        // Rewritten: the next load reads it.
        let (_s, outcome) = KeyStore::load_or_create(&path, DEFAULT_ROTATION).unwrap();
        assert_eq!(outcome, LoadOutcome::Loaded);
    }

    #[test]
    fn a_world_readable_file_is_not_used() {
        let path = tmp("perm");
        let (a, _) = KeyStore::load_or_create(&path, DEFAULT_ROTATION).unwrap();
        let old = cookie(&a.current());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let (b, outcome) = KeyStore::load_or_create(&path, DEFAULT_ROTATION).unwrap();
        assert!(matches!(
            outcome,
            LoadOutcome::Replaced(_, KeyFileError::Permissions(0o644))
        ));
        assert!(outcome.to_string().contains("readable by others"));
        assert!(b.current().open(&old).is_err());
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

//! `includefile` on a real filesystem (temporary directories): relative paths,
//! nesting limit, cycles, missing and unreadable files; `keys` beside them.

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{parse_mem, MemLoader};
use crate::config::*;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("slew-config-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn relative_includes_resolve_against_the_including_file() {
    let d = TempDir::new();
    let main = d.write(
        "ntp.conf",
        "server 192.0.2.1\nincludefile conf.d/servers.conf\nkeys keys/ntp.keys\ntrustedkey 3\n",
    );
    let servers = d.write(
        "conf.d/servers.conf",
        "includefile more.conf\nserver 192.0.2.2\n",
    );
    let more = d.write(
        "conf.d/more.conf",
        "# more\n\npool pool.example.org iburst\n",
    );
    let keys = d.write(
        "keys/ntp.keys",
        "3 SHA1 0123456789abcdef0123456789abcdef01234567\n",
    );
    // As a keys file should be (0644 would be warned about).
    fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let p = parse_file(&main).unwrap();
    assert_eq!(p.warnings, vec![]);
    let c = &p.config;
    let where_: Vec<(PathBuf, u32)> = c
        .sources
        .iter()
        .map(|s| (s.at.path.clone(), s.at.line))
        .collect();
    assert_eq!(
        where_,
        vec![(main.clone(), 1), (more.clone(), 3), (servers.clone(), 2)]
    );
    assert_eq!(c.files, vec![main, servers, more]);
    let keys = c.keys.as_ref().unwrap();
    assert_eq!(keys.path, d.0.join("keys/ntp.keys"));
    assert_eq!(keys.file.as_ref().unwrap().keys.len(), 1);
}

#[test]
fn errors_in_includes_point_into_them() {
    let d = TempDir::new();
    let main = d.write(
        "ntp.conf",
        "includefile inc.conf\nserver 192.0.2.1 perfer\n",
    );
    let inc = d.write("inc.conf", "\n\nserver 192.0.2.2 ibrust\n");
    let r = parse_file(&main).unwrap_err();
    let at: Vec<Location> = r.errors.iter().map(|e| e.location.clone()).collect();
    assert_eq!(
        at,
        vec![Location::new(&inc, 3, 18), Location::new(&main, 2, 18)]
    );
}

#[test]
fn missing_and_unreadable_includes_are_warnings() {
    let d = TempDir::new();
    fs::create_dir_all(d.0.join("a-directory")).unwrap();
    let main = d.write(
        "ntp.conf",
        "includefile /nonexistent/slew/crypto/pw\nincludefile a-directory\nkeys missing.keys\nserver 192.0.2.1\n",
    );
    let p = parse_file(&main).unwrap();
    assert_eq!(p.config.sources.len(), 1);
    let w: Vec<(u32, u32, bool)> = p
        .warnings
        .iter()
        .map(|w| {
            let is_include = matches!(w.kind, WarningKind::IncludeUnreadable { .. });
            (w.location.line, w.location.column, is_include)
        })
        .collect();
    assert_eq!(w, vec![(1, 13, true), (2, 13, true), (3, 6, false)]);
    let shown = p.warnings[0].to_string();
    assert!(
        shown.starts_with(&format!(
            "{}:1:13: warning: cannot read includefile /nonexistent/slew/crypto/pw",
            main.display()
        )),
        "{shown}"
    );
    assert!(shown.contains("\n  hint: "), "{shown}");
    assert_eq!(p.config.keys.unwrap().file, None);
}

#[test]
fn nesting_limit() {
    // main -> 1 -> 2 -> ... -> n; the main file is level 0.
    fn chain(d: &TempDir, n: usize) -> PathBuf {
        for i in 1..=n {
            let next = if i < n {
                format!("includefile l{}.conf\n", i + 1)
            } else {
                "server 192.0.2.1\n".to_string()
            };
            d.write(&format!("l{i}.conf"), &next);
        }
        d.write("ntp.conf", "includefile l1.conf\n")
    }
    let d = TempDir::new();
    let main = chain(&d, MAX_INCLUDE_DEPTH);
    let p = parse_file(&main).unwrap();
    assert_eq!(p.config.sources.len(), 1);
    assert_eq!(p.config.files.len(), MAX_INCLUDE_DEPTH + 1);

    let d = TempDir::new();
    let main = chain(&d, MAX_INCLUDE_DEPTH + 1);
    let r = parse_file(&main).unwrap_err();
    assert_eq!(r.errors.len(), 1);
    let e = &r.errors[0];
    assert_eq!(
        e.kind,
        ErrorKind::IncludeTooDeep {
            limit: MAX_INCLUDE_DEPTH
        }
    );
    assert_eq!(
        e.location,
        Location::new(d.0.join(format!("l{MAX_INCLUDE_DEPTH}.conf")), 1, 13)
    );
}

#[test]
fn cycles_are_refused() {
    let d = TempDir::new();
    let a = d.write("a.conf", "server 192.0.2.1\nincludefile b.conf\n");
    let b = d.write("b.conf", "includefile ./a.conf\n");
    let r = parse_file(&a).unwrap_err();
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].location, Location::new(&b, 1, 13));
    assert_eq!(
        r.errors[0].kind,
        ErrorKind::IncludeCycle {
            chain: vec![a.clone(), b.clone(), d.0.join("./a.conf")]
        }
    );

    // A file including itself.
    let s = d.write("self.conf", "includefile self.conf\n");
    let r = parse_file(&s).unwrap_err();
    assert!(matches!(r.errors[0].kind, ErrorKind::IncludeCycle { .. }));
}

#[test]
fn cycle_through_a_symlink() {
    let d = TempDir::new();
    let a = d.write("a.conf", "includefile link.conf\n");
    std::os::unix::fs::symlink(&a, d.0.join("link.conf")).unwrap();
    let r = parse_file(&a).unwrap_err();
    assert_eq!(r.errors.len(), 1);
    assert!(matches!(r.errors[0].kind, ErrorKind::IncludeCycle { .. }));
}

#[test]
fn including_one_file_twice_is_not_a_cycle() {
    let d = TempDir::new();
    let main = d.write("ntp.conf", "includefile x.conf\nincludefile x.conf\n");
    d.write("x.conf", "server 192.0.2.1\n");
    let p = parse_file(&main).unwrap();
    assert_eq!(p.config.sources.len(), 2);
}

#[test]
fn in_memory_loader_detects_cycles_lexically() {
    let mut files = MemLoader::default();
    files.add("/etc/a.conf", "includefile ../etc/./ntp.conf\n");
    let r = parse_mem("includefile a.conf\n", files).unwrap_err();
    assert!(matches!(r.errors[0].kind, ErrorKind::IncludeCycle { .. }));
}

#[test]
fn parse_str_reads_includes_relative_to_its_path() {
    let d = TempDir::new();
    d.write("inc.conf", "server 192.0.2.5\n");
    let p = parse_str("includefile inc.conf\n", &d.0.join("virtual.conf")).unwrap();
    assert_eq!(p.config.sources.len(), 1);
    assert_eq!(p.config.files[0], d.0.join("virtual.conf"));
}

#[test]
fn huge_include_is_refused_without_reading_it_all() {
    let d = TempDir::new();
    let big = d.0.join("big.conf");
    fs::write(&big, vec![b'#'; MAX_FILE_SIZE + 10]).unwrap();
    let main = d.write("ntp.conf", "includefile big.conf\n");
    let p = parse_file(&main).unwrap();
    assert!(matches!(
        &p.warnings[0].kind,
        WarningKind::IncludeUnreadable { reason, .. } if reason.contains("larger than")
    ));
    let r = parse_file(&big).unwrap_err();
    assert_eq!(
        r.errors[0].kind,
        ErrorKind::TooLarge {
            limit: MAX_FILE_SIZE
        }
    );
}

/// ntpd's warning about a keys file others can read: named with its mode and the
/// fix, once per load; the keys are still used.
#[test]
fn a_keys_file_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let d = TempDir::new();
    let keys = d.write(
        "ntp.keys",
        "1 SHA1 0123456789abcdef0123456789abcdef01234567\n",
    );
    let conf = d.write(
        "ntp.conf",
        &format!("keys {}\ntrustedkey 1\n", keys.display()),
    );
    let permissive = |p: &crate::config::Parsed| {
        p.warnings
            .iter()
            .filter(|w| matches!(w.kind, crate::config::WarningKind::KeysPermissive { .. }))
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    for (mode, expect) in [
        (0o644, Some("mode 0644: readable by everyone")),
        (0o660, Some("mode 0660: writable by its group")),
        (0o602, Some("mode 0602: writable by everyone")),
        (0o600, None),
        (0o640, None),
        (0o400, None),
    ] {
        fs::set_permissions(&keys, fs::Permissions::from_mode(mode)).unwrap();
        let p = crate::config::parse_file(&conf).unwrap();
        let w = permissive(&p);
        let key_file = p.config.keys.as_ref().and_then(|k| k.file.as_ref());
        assert!(key_file.is_some(), "{mode:o}: the keys are still used");
        match expect {
            Some(text) => {
                assert_eq!(w.len(), 1, "{mode:o}: {w:?}");
                assert!(w[0].contains(text), "{}", w[0]);
                assert!(w[0].contains(&keys.display().to_string()), "{}", w[0]);
                assert!(w[0].contains("chmod 600"), "{}", w[0]);
                assert!(w[0].contains(&format!("{}:1:", conf.display())), "{}", w[0]);
            }
            None => assert!(w.is_empty(), "{mode:o}: {w:?}"),
        }
    }
}

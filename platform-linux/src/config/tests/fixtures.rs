//! The article's two ntp.conf files, byte for byte.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use super::MemLoader;
use crate::config::*;

const SERVER: &str = "seed-server-ntp.conf";
const CLIENT: &str = "seed-client-ntp.conf";

/// The copies kept in this crate, so that tests do not depend on `shared/`.
fn local(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(local(name)).unwrap()
}

/// Parse a fixture with nothing else on the "filesystem": its includefile and keys
/// file are missing, whatever the machine running the tests has in /etc/ntp.
fn parse_fixture(name: &str, bytes: &[u8]) -> Result<Parsed, Rejected> {
    let path = local(name);
    let mut loader = MemLoader::default();
    loader.add(&path, bytes);
    parse_file_with(&path, &mut loader)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn copies_match_shared() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures");
    if !shared.is_dir() {
        // CI without shared/ beside the repo: nothing to compare against.
        return;
    }
    for name in [SERVER, CLIENT] {
        let original = std::fs::read(shared.join(name)).unwrap();
        assert_eq!(original, read(name), "{name} differs from shared/fixtures");
    }
}

#[test]
fn server_fixture_fails_exactly_at_perfer() {
    let rejected = parse_fixture(SERVER, &read(SERVER)).unwrap_err();
    assert_eq!(rejected.errors.len(), 1, "{rejected}");
    let e = &rejected.errors[0];
    assert_eq!(e.location.path, local(SERVER));
    assert_eq!((e.location.line, e.location.column), (31, 22));
    assert_eq!(
        e.kind,
        ErrorKind::UnknownOption {
            directive: "server",
            word: "perfer".into(),
            suggestion: Some("prefer"),
        }
    );
    let shown = e.to_string();
    let first = format!(
        "{}:31:22: error: unknown option `perfer` for `server`; did you mean `prefer`?",
        local(SERVER).display()
    );
    assert_eq!(shown.lines().next(), Some(first.as_str()));
    assert_eq!(
        shown.lines().nth(1),
        Some("  hint: replace it with `prefer`")
    );
}

#[test]
fn server_fixture_fails_on_the_real_filesystem_too() {
    // Whatever /etc/ntp holds on this machine, the only error in the fixture itself
    // is the typo (a keys file there could add errors of its own).
    let rejected = parse_file(&local(SERVER)).unwrap_err();
    let ours: Vec<_> = rejected
        .errors
        .iter()
        .filter(|e| e.location.path == local(SERVER))
        .collect();
    assert_eq!(ours.len(), 1, "{rejected}");
    assert_eq!(ours[0].location.line, 31);
}

#[test]
fn server_fixture_with_prefer_fixed() {
    let text = String::from_utf8(read(SERVER)).unwrap();
    assert_eq!(text.matches("perfer").count(), 2); // the comment and the line
    let fixed = text.replace("44 perfer", "44 prefer");
    let parsed = parse_fixture(SERVER, fixed.as_bytes()).unwrap();
    let c = &parsed.config;

    assert_eq!(
        c.driftfile.as_ref().map(|d| d.value.clone()),
        Some(PathBuf::from("/var/lib/ntp/drift"))
    );
    assert_eq!(c.driftfile.as_ref().unwrap().at.line, 11);

    let servers: Vec<(&Host, bool)> = c
        .sources
        .iter()
        .map(|s| (&s.host, s.options.prefer))
        .collect();
    assert_eq!(
        servers,
        vec![
            (&Host::Ip(ip("210.72.145.44")), true),
            (&Host::Ip(ip("202.112.10.36")), false),
            (&Host::Ip(ip("59.124.196.83")), false),
        ]
    );
    assert!(c
        .sources
        .iter()
        .all(|s| s.kind == SourceKind::Server && s.family.is_none() && s.options.port.is_none()));

    assert_eq!(c.local_clocks.len(), 1);
    let local_clock = &c.local_clocks[0];
    assert_eq!(local_clock.unit, 0);
    assert_eq!(local_clock.stratum, Some(10));
    assert_eq!(local_clock.refid, None);
    assert_eq!(local_clock.at.line, 49);
    assert_eq!(
        local_clock.fudge_at.as_ref().map(|l| (l.line, l.column)),
        Some((50, 8))
    );

    use RestrictFlag::*;
    let flags = |fs: &[RestrictFlag]| fs.iter().copied().collect::<RestrictFlags>();
    let default_flags = flags(&[Kod, NoModify, NoTrap, NoPeer, NoQuery]);
    let upstream = flags(&[NoModify, NoTrap, NoQuery]);
    let host4 = |s: &str| RestrictTarget::Network {
        addr: ip(s),
        mask: IpAddr::V4(Ipv4Addr::BROADCAST),
    };
    let got: Vec<(RestrictTarget, RestrictFlags, u32)> = c
        .restricts
        .iter()
        .map(|r| (r.target.clone(), r.flags, r.at.line))
        .collect();
    assert_eq!(
        got,
        vec![
            (RestrictTarget::Default { family: None }, default_flags, 15),
            (
                RestrictTarget::Default {
                    family: Some(AddressFamily::V6)
                },
                default_flags,
                16
            ),
            (host4("127.0.0.1"), RestrictFlags::EMPTY, 21),
            (
                RestrictTarget::Network {
                    addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
                    mask: IpAddr::V6(Ipv6Addr::from(u128::MAX)),
                },
                RestrictFlags::EMPTY,
                22
            ),
            (
                RestrictTarget::Network {
                    addr: ip("192.168.40.0"),
                    mask: ip("255.255.255.0"),
                },
                flags(&[NoModify, NoTrap]),
                26
            ),
            (host4("210.72.145.44"), upstream, 43),
            (host4("202.112.10.36"), upstream, 44),
            (host4("59.124.196.83"), upstream, 45),
        ]
    );

    let keys = c.keys.as_ref().unwrap();
    assert_eq!(keys.path, PathBuf::from("/etc/ntp/keys"));
    assert_eq!(keys.file, None);
    assert!(c.trusted_keys.is_empty());
    assert_eq!(c.files, vec![local(SERVER)]);

    // Warnings: `kod` without `limited` twice, the missing includefile and keys file.
    let w: Vec<(u32, u32, &str)> = parsed
        .warnings
        .iter()
        .map(|w| {
            let tag = match w.kind {
                WarningKind::NoEffect { .. } => "noeffect",
                WarningKind::IncludeUnreadable { .. } => "include",
                WarningKind::KeysUnreadable { .. } => "keys",
                _ => "other",
            };
            (w.location.line, w.location.column, tag)
        })
        .collect();
    assert_eq!(
        w,
        vec![
            (15, 18, "noeffect"),
            (16, 21, "noeffect"),
            (55, 13, "include"),
            (59, 6, "keys")
        ]
    );
}

#[test]
fn client_fixture() {
    let parsed = parse_fixture(CLIENT, &read(CLIENT)).unwrap();
    let c = &parsed.config;
    assert_eq!(c.sources.len(), 1);
    assert_eq!(c.sources[0].host, Host::Ip(ip("192.168.100.203")));
    assert_eq!(c.sources[0].options, SourceOptions::default());
    assert_eq!(c.local_clocks.len(), 1);
    assert_eq!(c.local_clocks[0].stratum, Some(10));
    assert_eq!(c.restricts.len(), 3);
    assert_eq!(
        c.restricts[2].flags,
        [
            RestrictFlag::NoModify,
            RestrictFlag::NoTrap,
            RestrictFlag::NoQuery
        ]
        .into_iter()
        .collect()
    );
    assert_eq!(
        c.keys.as_ref().unwrap().path,
        PathBuf::from("/etc/ntp/keys")
    );
    let lines: Vec<u32> = parsed.warnings.iter().map(|w| w.location.line).collect();
    assert_eq!(lines, vec![17, 18]);
}

#[test]
fn client_fixture_on_the_real_filesystem() {
    // Missing files are warnings; a keys file this machine happens to have may bring
    // errors of its own, but none may point into the fixture.
    match parse_file(&local(CLIENT)) {
        Ok(parsed) => assert_eq!(parsed.config.sources.len(), 1),
        Err(r) => assert!(
            r.errors.iter().all(|e| e.location.path != local(CLIENT)),
            "{r}"
        ),
    }
}

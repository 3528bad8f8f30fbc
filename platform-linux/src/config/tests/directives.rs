//! Every directive of the dialect, parsed into the typed configuration.

use std::net::IpAddr;
use std::path::PathBuf;

use super::{ok, ok_with, MemLoader};
use crate::config::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn server_options() {
    let c = ok(
        "server -4 ntp1.example.com iburst burst prefer minpoll 4 maxpoll 10 key 7 \
                version 3 noselect true port 10123\n\
                pool 0.centos.pool.ntp.org iburst\n\
                peer -6 fe80::1 \n\
                server 2001:db8::1 maxpoll 17 minpoll 3\n",
    );
    assert_eq!(c.sources.len(), 4);
    let s = &c.sources[0];
    assert_eq!(s.kind, SourceKind::Server);
    assert_eq!(s.host, Host::Name("ntp1.example.com".into()));
    assert_eq!(s.family, Some(AddressFamily::V4));
    assert_eq!(
        s.options,
        SourceOptions {
            iburst: true,
            burst: true,
            prefer: true,
            noselect: true,
            truechimer: true,
            minpoll: Some(4),
            maxpoll: Some(10),
            key: Some(7),
            version: Some(3),
            port: Some(10123),
            ..SourceOptions::default()
        }
    );
    assert_eq!((s.at.line, s.at.column), (1, 1));
    assert_eq!(c.sources[1].kind, SourceKind::Pool);
    assert!(c.sources[1].options.iburst);
    assert_eq!(c.sources[2].kind, SourceKind::Peer);
    assert_eq!(c.sources[2].host, Host::Ip(ip("fe80::1")));
    assert_eq!(c.sources[3].options.minpoll, Some(3));
    assert_eq!(c.sources[3].options.maxpoll, Some(17));
}

#[test]
fn local_clock_and_fudge() {
    // The fudge may come before the server line: ntpd applies fudges after all peers.
    let c = ok("fudge 127.127.1.1 refid GPS\n\
                server 127.127.1.0 prefer minpoll 4\n\
                server 127.127.1.1\n\
                fudge 127.127.1.0 stratum 10 refid LOCL\n\
                fudge 127.127.1.1 stratum 12\n");
    assert_eq!(c.sources, vec![]);
    assert_eq!(c.local_clocks.len(), 2);
    let l0 = &c.local_clocks[0];
    assert_eq!(
        (l0.unit, l0.stratum, l0.refid.as_deref()),
        (0, Some(10), Some("LOCL"))
    );
    assert!(l0.options.prefer);
    assert_eq!(l0.options.minpoll, Some(4));
    let l1 = &c.local_clocks[1];
    assert_eq!(
        (l1.unit, l1.stratum, l1.refid.as_deref()),
        (1, Some(12), Some("GPS"))
    );
    assert_eq!(l1.fudge_at.as_ref().unwrap().line, 5);
}

#[test]
fn local_clock_warnings() {
    let p = ok_with("server 127.127.1.0 iburst\n", MemLoader::default());
    assert_eq!(p.config.local_clocks.len(), 1);
    assert_eq!(p.warnings.len(), 1);
    assert_eq!(p.warnings[0].location.column, 20);
    assert!(matches!(p.warnings[0].kind, WarningKind::NoEffect { .. }));
}

#[test]
fn restrict_forms() {
    use RestrictFlag::*;
    let c = ok("restrict default ignore\n\
                restrict -4 default noquery\n\
                restrict source nomodify notrap noquery\n\
                restrict 10.0.0.0 mask 255.0.0.0 limited kod nomrulist\n\
                restrict -6 2001:db8:: mask ffff:ffff:: noserve ippeerlimit 2\n\
                restrict time.example.com mask 255.255.255.0 version ntpport\n\
                restrict 192.0.2.1 flake lowpriotrap noepeer notrust serverresponse fuzz\n\
                restrict 192.0.2.7 mask 255.255.255.0\n");
    let t: Vec<_> = c.restricts.iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        t,
        vec![
            RestrictTarget::Default { family: None },
            RestrictTarget::Default {
                family: Some(AddressFamily::V4)
            },
            RestrictTarget::Source,
            RestrictTarget::Network {
                addr: ip("10.0.0.0"),
                mask: ip("255.0.0.0")
            },
            RestrictTarget::Network {
                addr: ip("2001:db8::"),
                mask: ip("ffff:ffff::")
            },
            RestrictTarget::Host {
                name: "time.example.com".into(),
                family: None,
                mask: Some(ip("255.255.255.0"))
            },
            RestrictTarget::Network {
                addr: ip("192.0.2.1"),
                mask: ip("255.255.255.255")
            },
            // Host bits are cleared, as ntpd does (with a warning here).
            RestrictTarget::Network {
                addr: ip("192.0.2.0"),
                mask: ip("255.255.255.0")
            },
        ]
    );
    let flags: Vec<Vec<RestrictFlag>> = c
        .restricts
        .iter()
        .map(|r| r.flags.iter().collect())
        .collect();
    assert_eq!(flags[0], vec![Ignore]);
    assert_eq!(flags[2], vec![NoModify, NoQuery, NoTrap]);
    assert_eq!(flags[3], vec![Kod, Limited, NoMruList]);
    assert_eq!(c.restricts[4].ippeerlimit, Some(2));
    assert_eq!(flags[5], vec![NtpPort, Version]);
    assert_eq!(
        flags[6],
        vec![Flake, LowPrioTrap, NoEpeer, NoTrust, ServerResponseFuzz]
    );
    assert!(c.restricts[7].flags.is_empty());
    for f in RestrictFlag::ALL {
        assert_eq!(RestrictFlag::from_name(f.name()), Some(f));
    }
}

#[test]
fn restrict_host_bits_warn() {
    let p = ok_with(
        "restrict 192.0.2.7 mask 255.255.255.0\n",
        MemLoader::default(),
    );
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].to_string().contains("write `192.0.2.0`"));
}

#[test]
fn discard() {
    let c = ok("discard average 4 minimum 1\ndiscard monitor 3000\n");
    assert_eq!(
        c.discard,
        Discard {
            average: Some(4),
            minimum: Some(1),
            monitor: Some(3000)
        }
    );
}

#[test]
fn file_directives_resolve_relative_paths() {
    let c = ok("driftfile drift\n\
                logfile /var/log/slew.log\n\
                leapfile ../leap-seconds.list\n\
                statsdir \"/var/log/ntp stats/\"\n");
    assert_eq!(c.driftfile.unwrap().value, PathBuf::from("/etc/drift"));
    assert_eq!(c.logfile.unwrap().value, PathBuf::from("/var/log/slew.log"));
    assert_eq!(
        c.leapfile.unwrap().value,
        PathBuf::from("/etc/../leap-seconds.list")
    );
    assert_eq!(
        c.statsdir.unwrap().value,
        PathBuf::from("/var/log/ntp stats/")
    );
}

#[test]
fn repeated_directive_warns_and_last_wins() {
    let p = ok_with("driftfile /a\ndriftfile /b\n", MemLoader::default());
    assert_eq!(p.config.driftfile.unwrap().value, PathBuf::from("/b"));
    assert_eq!(p.warnings.len(), 1);
    assert!(matches!(
        &p.warnings[0].kind,
        WarningKind::Repeated { directive: "driftfile", first } if first.line == 1
    ));
}

#[test]
fn keys_and_key_ids() {
    let mut files = MemLoader::default();
    files.add(
        "/etc/ntp/keys",
        "1 MD5 one\n4 SHA1 four\n8 AES128CMAC 000102030405060708090a0b0c0d0e0f\n",
    );
    let p = ok_with(
        "keys ntp/keys\n\
         trustedkey 4 8 (10 ... 12)\n\
         trustedkey (20...21) 1\n\
         requestkey 8\n\
         controlkey 1\n\
         server 192.0.2.1 key 4\n",
        files,
    );
    let c = &p.config;
    let keys = c.keys.as_ref().unwrap();
    assert_eq!(keys.path, PathBuf::from("/etc/ntp/keys"));
    assert_eq!(keys.file.as_ref().unwrap().keys.len(), 3);
    assert_eq!(
        c.trusted_keys.iter().copied().collect::<Vec<_>>(),
        vec![1, 4, 8, 10, 11, 12, 20, 21]
    );
    assert_eq!(c.request_key.as_ref().unwrap().value, 8);
    assert_eq!(c.control_key.as_ref().unwrap().value, 1);
    // Ids in ranges are not checked against the file; single ids are, and all exist.
    assert_eq!(p.warnings, vec![]);
}

#[test]
fn unknown_key_ids_warn() {
    let mut files = MemLoader::default();
    files.add("/etc/keys", "1 MD5 one\n");
    let p = ok_with(
        "keys /etc/keys\ntrustedkey 1 42\nserver 192.0.2.1 key 43\ncontrolkey 44\n",
        files,
    );
    let w: Vec<(u32, u32, String)> = p
        .warnings
        .iter()
        .map(|w| (w.location.line, w.location.column, w.kind.message()))
        .collect();
    assert_eq!(
        w,
        vec![
            (
                2,
                14,
                "key 42 used by `trustedkey` is not in the keys file".into()
            ),
            (
                3,
                22,
                "key 43 used by `server` is not in the keys file".into()
            ),
            (
                4,
                12,
                "key 44 used by `controlkey` is not in the keys file".into()
            ),
        ]
    );
}

#[test]
fn statistics_and_filegen() {
    let c = ok("statistics loopstats peerstats clockstats\n\
                statistics sysstats\n\
                filegen loopstats file loops type day enable\n\
                filegen peerstats type week nolink disable\n\
                filegen clockstats link\n");
    assert_eq!(
        c.statistics.iter().copied().collect::<Vec<_>>(),
        vec![
            StatsKind::Clockstats,
            StatsKind::Loopstats,
            StatsKind::Peerstats,
            StatsKind::Sysstats
        ]
    );
    let g = &c.filegens;
    assert_eq!(g.len(), 3);
    assert_eq!(g[0].kind, StatsKind::Loopstats);
    assert_eq!(g[0].file.as_deref(), Some("loops"));
    assert_eq!(g[0].file_type, Some(FilegenType::Day));
    assert_eq!(g[0].enabled, Some(true));
    assert_eq!(
        (g[1].file_type, g[1].link, g[1].enabled),
        (Some(FilegenType::Week), Some(false), Some(false))
    );
    assert_eq!((g[2].link, g[2].enabled), (Some(true), None));
    for k in StatsKind::ALL {
        let c = ok(&format!("statistics {}\n", k.name()));
        assert!(c.statistics.contains(&k));
    }
}

#[test]
fn tinker_and_tos() {
    let c = ok("tinker panic 0 step 0.128 stepout 900 maxslewrate 500\n\
                tinker allan 11 dispersion 15 freq -12.5 huffpuff 7200 stepback 1 stepfwd 2 tick 0.01\n\
                tos minsane 2 orphan 10 orphanwait 300 minclock 3 maxclock 10\n\
                tos maxdist 1.5 mindist 0.001 ceiling 15 floor 1 cohort 1 beacon 3600\n\
                tos basedate 2020-01-01\n");
    let t = c.tinker;
    assert_eq!(t.panic, Some(0.0));
    assert_eq!(t.step, Some(0.128));
    assert_eq!(t.stepout, Some(900.0));
    assert_eq!(t.maxslewrate, Some(500.0));
    assert_eq!(t.freq, Some(-12.5));
    assert_eq!(t.allan, Some(11.0));
    assert_eq!(t.dispersion, Some(15.0));
    assert_eq!(t.huffpuff, Some(7200.0));
    assert_eq!(
        (t.stepback, t.stepfwd, t.tick),
        (Some(1.0), Some(2.0), Some(0.01))
    );
    let o = &c.tos;
    assert_eq!(
        (o.minsane, o.orphan, o.orphanwait),
        (Some(2), Some(10), Some(300))
    );
    assert_eq!((o.minclock, o.maxclock), (Some(3), Some(10)));
    assert_eq!((o.maxdist, o.mindist), (Some(1.5), Some(0.001)));
    assert_eq!(
        (o.ceiling, o.floor, o.cohort, o.beacon),
        (Some(15), Some(1), Some(true), Some(3600))
    );
    assert_eq!(o.basedate.as_deref(), Some("2020-01-01"));
}

#[test]
fn interface_rules() {
    let c = ok("interface ignore wildcard\n\
                interface listen 127.0.0.1\n\
                interface listen 192.168.40.0/24\n\
                nic drop ipv6\n\
                interface listen eth0\n\
                interface ignore all\n\
                interface listen ipv4\n");
    let r: Vec<(InterfaceAction, InterfaceMatch)> = c
        .interfaces
        .iter()
        .map(|r| (r.action, r.matches.clone()))
        .collect();
    use InterfaceAction::*;
    assert_eq!(
        r,
        vec![
            (Ignore, InterfaceMatch::Wildcard),
            (
                Listen,
                InterfaceMatch::Prefix {
                    addr: ip("127.0.0.1"),
                    len: None
                }
            ),
            (
                Listen,
                InterfaceMatch::Prefix {
                    addr: ip("192.168.40.0"),
                    len: Some(24)
                }
            ),
            (Drop, InterfaceMatch::Ipv6),
            (Listen, InterfaceMatch::Name("eth0".into())),
            (Ignore, InterfaceMatch::All),
            (Listen, InterfaceMatch::Ipv4),
        ]
    );
}

#[test]
fn enable_disable() {
    let c = ok("disable monitor\n\
                enable auth kernel ntp stats\n\
                disable mode7 kernel\n\
                enable peer_clear_digest_early unpeer_crypto_early unpeer_crypto_nak_early unpeer_digest_early\n");
    assert_eq!(c.system_flag(SystemFlag::Monitor), Some(false));
    assert_eq!(c.system_flag(SystemFlag::Kernel), Some(false));
    assert_eq!(c.system_flag(SystemFlag::Auth), Some(true));
    assert_eq!(c.system_flag(SystemFlag::Mode7), Some(false));
    assert_eq!(c.system_flag(SystemFlag::UnpeerDigestEarly), Some(true));
    assert_eq!(c.system_flag(SystemFlag::Ntp), Some(true));
    assert_eq!(c.system_flags.len(), 11);
}

#[test]
fn lexical_details() {
    // Tabs, CRLF, comments after words, blank lines, `#` glued to a word.
    let c = ok(
        "\r\n\tserver\t192.0.2.1\tiburst# no space before the comment\r\n   \r\n\
                # server 192.0.2.99\r\ndriftfile \"/var/lib/ntp/drift\"#x\r\n",
    );
    assert_eq!(c.sources.len(), 1);
    assert!(c.sources[0].options.iburst);
    assert_eq!(c.sources[0].at.line, 2);
    assert_eq!(c.sources[0].at.column, 2);
    assert_eq!(
        c.driftfile.unwrap().value,
        PathBuf::from("/var/lib/ntp/drift")
    );
}

#[test]
fn empty_file_is_fine() {
    let c = ok("");
    assert_eq!(
        c,
        Config {
            files: vec![PathBuf::from("/etc/ntp.conf")],
            ..Config::default()
        }
    );
}

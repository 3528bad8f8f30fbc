//! Every kind of error, where it points, and how it reads.

use std::path::Path;

use super::{errs, parse_mem, MemLoader, MAIN};
use crate::config::*;

/// (line, column) of each error.
fn at(errors: &[ConfigError]) -> Vec<(u32, u32)> {
    errors
        .iter()
        .map(|e| (e.location.line, e.location.column))
        .collect()
}

/// The single error of `text`.
fn one(text: &str) -> ConfigError {
    let mut e = errs(text);
    assert_eq!(e.len(), 1, "{text:?} gave {e:#?}");
    e.remove(0)
}

#[test]
fn display_has_location_message_and_hint() {
    let e = one("server 192.0.2.1 ibrust\n");
    assert_eq!(
        e.to_string(),
        "/etc/ntp.conf:1:18: error: unknown option `ibrust` for `server`; did you mean `iburst`?\n  \
         hint: replace it with `iburst`"
    );
    let e = one("sever 192.0.2.1\n");
    assert_eq!(
        e.to_string(),
        "/etc/ntp.conf:1:1: error: unknown directive `sever`; did you mean `server`?\n  \
         hint: replace it with `server`, or comment the line out with `#`"
    );
}

#[test]
fn all_errors_are_collected_in_order() {
    let e = errs(
        "perfer 1\n\
                  server 192.0.2.1 perfer\n\
                  # fine\n\
                  restrict default nomodfy\n\
                  driftfile\n\
                  server 192.0.2.2 minpoll 2 maxpoll 99\n",
    );
    assert_eq!(
        at(&e),
        vec![(1, 1), (2, 18), (4, 18), (5, 10), (6, 26), (6, 36)]
    );
    assert!(matches!(
        &e[2].kind,
        ErrorKind::UnknownOption {
            directive: "restrict",
            suggestion: Some("nomodify"),
            ..
        }
    ));
}

#[test]
fn unknown_directives() {
    assert!(matches!(
        one("Server 192.0.2.1\n").kind,
        ErrorKind::UnknownDirective {
            suggestion: Some("server"),
            ..
        }
    ));
    assert!(matches!(
        one("xyzzy\n").kind,
        ErrorKind::UnknownDirective {
            suggestion: None,
            ..
        }
    ));
    assert!(matches!(
        one("brodcast 192.0.2.255\n").kind,
        ErrorKind::UnknownDirective {
            suggestion: Some("broadcast"),
            ..
        }
    ));
    // A quoted word is never a keyword.
    assert!(matches!(
        one("\"server\" 192.0.2.1\n").kind,
        ErrorKind::UnknownDirective { .. }
    ));
}

#[test]
fn unsupported_directives_are_refused_by_name() {
    for d in [
        "broadcast 192.168.1.255 autokey",
        "broadcastclient",
        "multicastclient 224.0.1.1",
        "manycastserver 239.255.254.254",
        "manycastclient 239.255.254.254 autokey",
        "crypto",
        "crypto pw secret",
        "logconfig =syncall",
        "unrestrict default",
    ] {
        let e = one(&format!("{d}\n"));
        let word = d.split(' ').next().unwrap();
        assert_eq!(
            e.kind,
            ErrorKind::Unsupported {
                word: word.into(),
                what: "directive".into()
            },
            "{d}"
        );
        assert_eq!(e.location.column, 1);
        assert!(
            e.to_string()
                .contains("slew does not support the directive"),
            "{e}"
        );
    }
    // The fixture's commented-out lines stay comments.
    assert_eq!(
        super::ok("#broadcast 192.168.1.255 autokey\n#crypto\n"),
        super::ok("")
    );
}

#[test]
fn unsupported_options_and_flags() {
    let cases: &[(&str, u32, &str)] = &[
        ("server 192.0.2.1 autokey", 18, "autokey"),
        ("server 192.0.2.1 iburst xleave", 25, "xleave"),
        ("pool pool.example.org preempt", 23, "preempt"),
        ("server 192.0.2.1 mode 5 iburst", 18, "mode"),
        ("server 192.0.2.1 ttl 4", 18, "ttl"),
        ("restrict default mssntp", 18, "mssntp"),
        ("enable bclient", 8, "bclient"),
        ("enable calibrate", 8, "calibrate"),
        ("enable mode7", 8, "mode7"),
        ("tos bcpollbstep 3", 5, "bcpollbstep"),
        (
            "server 127.127.1.0\nfudge 127.127.1.0 time1 0.5",
            19,
            "time1",
        ),
    ];
    for &(text, col, word) in cases {
        let e = one(&format!("{text}\n"));
        assert!(
            matches!(&e.kind, ErrorKind::Unsupported { word: w, .. } if w == word),
            "{text}: {e}"
        );
        assert_eq!(e.location.column, col, "{text}");
    }
}

#[test]
fn unknown_options_get_suggestions() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("server 192.0.2.1 perfer", "server", Some("prefer")),
        ("server 192.0.2.1 minpol 6", "server", Some("minpoll")),
        ("pool pool.example.org ibusrt", "pool", Some("iburst")),
        ("peer 192.0.2.1 frobnicate", "peer", None),
        ("restrict default nopeers", "restrict", Some("nopeer")),
        ("restrict default limted", "restrict", Some("limited")),
        ("discard averag 3", "discard", Some("average")),
        ("tinker stepot 900", "tinker", Some("stepout")),
        ("tos minsan 2", "tos", Some("minsane")),
        (
            "server 127.127.1.0\nfudge 127.127.1.0 startum 10",
            "fudge",
            Some("stratum"),
        ),
        ("filegen loopstats tpye day", "filegen", Some("type")),
    ];
    for &(text, directive, suggestion) in cases {
        let e = errs(&format!("{text}\n"));
        assert!(
            e.iter().any(|e| e.kind
                == ErrorKind::UnknownOption {
                    directive,
                    word: e_word(e),
                    suggestion
                }),
            "{text}: {e:#?}"
        );
    }
}

fn e_word(e: &ConfigError) -> String {
    match &e.kind {
        ErrorKind::UnknownOption { word, .. } => word.clone(),
        _ => String::new(),
    }
}

#[test]
fn missing_arguments_point_past_the_line() {
    let cases: &[(&str, u32)] = &[
        ("server", 7),
        ("server -4", 10),
        ("server 192.0.2.1 minpoll", 25),
        ("server 192.0.2.1 key", 21),
        ("restrict", 9),
        ("restrict -6", 12),
        ("restrict 10.0.0.0 mask", 23),
        ("driftfile", 10),
        ("includefile", 12),
        ("keys", 5),
        ("trustedkey", 11),
        ("fudge", 6),
        ("discard", 8),
        ("statistics", 11),
        ("filegen", 8),
        ("filegen loopstats file", 23),
        ("tinker", 7),
        ("tinker panic", 13),
        ("tos", 4),
        ("interface", 10),
        ("interface listen", 17),
        ("enable", 7),
        ("disable", 8),
        ("requestkey", 11),
    ];
    for &(text, col) in cases {
        let e = one(&format!("{text}   # comment\n"));
        assert!(
            matches!(e.kind, ErrorKind::MissingArgument { .. }),
            "{text}: {e}"
        );
        assert_eq!(e.location.column, col, "{text}");
    }
    // An option in address position is a missing address.
    let e = one("server iburst\n");
    assert!(matches!(e.kind, ErrorKind::MissingArgument { .. }), "{e}");
    let e = one("restrict nomodify notrap\n");
    assert!(matches!(e.kind, ErrorKind::MissingArgument { .. }), "{e}");
}

#[test]
fn invalid_numbers() {
    let cases: &[(&str, u32)] = &[
        ("server 192.0.2.1 minpoll 2", 26),
        ("server 192.0.2.1 maxpoll 18", 26),
        ("server 192.0.2.1 minpoll -1", 26),
        ("server 192.0.2.1 version 5", 26),
        ("server 192.0.2.1 version 0", 26),
        ("server 192.0.2.1 port 0", 23),
        ("server 192.0.2.1 port 65536", 23),
        ("server 192.0.2.1 key 0", 22),
        ("server 192.0.2.1 key 65536", 22),
        ("server 192.0.2.1 minpoll 99999999999999999999999", 26),
        ("server 127.127.1.0\nfudge 127.127.1.0 stratum 16", 27),
        ("tinker panic abc", 14),
        ("tinker panic nan", 14),
        ("tinker step inf", 13),
        ("tinker freq 501", 13),
        ("tos minsane x", 13),
        ("tos orphan 17", 12),
        ("tos maxdist -1", 13),
        ("discard average 18", 17),
        ("restrict default ippeerlimit x", 30),
        ("requestkey 0", 12),
    ];
    for &(text, col) in cases {
        let e = one(&format!("{text}\n"));
        assert!(
            matches!(e.kind, ErrorKind::InvalidNumber { .. }),
            "{text}: {e}"
        );
        assert_eq!(e.location.column, col, "{text}");
    }
}

#[test]
fn invalid_addresses() {
    for (text, col) in [
        ("server 300.1.1.1", 8),
        ("server 1.2.3", 8),
        ("server bad_host!", 8),
        ("server fe80::1%eth0", 8),
        ("server 2001:db8:::1", 8),
        ("server -bad.example", 8),
        ("restrict 10.0.0.0 mask 255.0.0", 24),
        ("restrict 999.0.0.0", 10),
        ("fudge 192.0.2.1 stratum 3", 7),
    ] {
        let e = one(&format!("{text}\n"));
        assert!(
            matches!(e.kind, ErrorKind::InvalidAddress { .. }),
            "{text}: {e}"
        );
        assert_eq!(e.location.column, col, "{text}");
    }
}

#[test]
fn invalid_values() {
    for (text, col) in [
        ("statistics loopstat", 12),
        ("filegen nostats", 9),
        ("filegen loopstats type daily", 24),
        ("interface listen 10.0.0.0/33", 18),
        ("interface listen eth0/1", 18),
        ("interface lisen all", 11),
        ("enable monitr", 8),
        ("trustedkey 4 x", 14),
        ("trustedkey (4 ... 2)", 13),
        ("trustedkey (4 .. 8)", 15),
        ("trustedkey (4 ... 8", 20),
        ("tos basedate 2020-13-01", 14),
        ("restrict default serverresponse fizz", 33),
        ("server 127.127.1.0\nfudge 127.127.1.0 refid TOOLONG", 25),
    ] {
        let e = one(&format!("{text}\n"));
        assert!(
            matches!(e.kind, ErrorKind::InvalidValue { .. }),
            "{text}: {e}"
        );
        assert_eq!(e.location.column, col, "{text}");
    }
    let e = one("statistics loopstat\n");
    assert!(e.to_string().contains("did you mean `loopstats`?"), "{e}");
}

#[test]
fn unexpected_arguments() {
    for (text, col) in [
        ("driftfile /a /b", 14),
        ("includefile /a /b", 16),
        ("keys /a /b", 9),
        ("controlkey 1 2", 14),
        ("interface listen all eth0", 22),
    ] {
        let e = one(&format!("{text}\n"));
        assert!(
            matches!(e.kind, ErrorKind::UnexpectedArgument { .. }),
            "{text}: {e}"
        );
        assert_eq!(e.location.column, col, "{text}");
    }
}

#[test]
fn conflicts() {
    for (text, col) in [
        ("server 192.0.2.1 minpoll 10 maxpoll 6", 18),
        ("server -4 2001:db8::1", 11),
        ("server -6 192.0.2.1", 11),
        ("server -6 -4 192.0.2.1", 11),
        ("restrict -6 192.0.2.1", 13),
        ("restrict default mask 255.0.0.0", 23),
        ("restrict source mask 255.0.0.0", 22),
        ("restrict -4 source", 13),
        ("restrict 10.0.0.0 mask ffff::", 24),
        ("pool 127.127.1.0", 6),
        ("server 127.127.1.0 key 1", 20),
        ("server 127.127.1.0 port 123", 20),
        ("server 127.127.1.0\nserver 127.127.1.0", 8),
    ] {
        let e = one(&format!("{text}\n"));
        assert!(matches!(e.kind, ErrorKind::Conflict { .. }), "{text}: {e}");
        assert_eq!(e.location.column, col, "{text}");
    }
}

#[test]
fn fudge_needs_its_server() {
    let e = one("fudge 127.127.1.0 stratum 10\nserver 127.127.1.1\n");
    assert_eq!(
        e.kind,
        ErrorKind::FudgeWithoutServer {
            address: "127.127.1.0".into()
        }
    );
    assert_eq!((e.location.line, e.location.column), (1, 7));
    assert!(e.kind.hint().contains("server 127.127.1.0"));

    // A server line with its own error does not make its fudge a second error.
    let e = one("server 127.127.1.0 perfer\nfudge 127.127.1.0 stratum 10\n");
    assert_eq!((e.location.line, e.location.column), (1, 20));
}

#[test]
fn refclocks_without_a_linux_driver_are_refused() {
    // PPS (22) has no Linux driver yet; unknown types are refused by number.
    let e = one("server 127.127.22.0\n");
    assert_eq!(e.kind, ErrorKind::UnsupportedRefclock { driver: 22 });
    let e = one("server 127.127.8.0\n");
    assert_eq!(e.kind, ErrorKind::UnsupportedRefclock { driver: 8 });
    let e = one("fudge 127.127.22.0 refid PPS\n");
    assert_eq!(e.kind, ErrorKind::UnsupportedRefclock { driver: 22 });
    // Bad options of the NMEA/SHM lines, and a fudge for no clock.
    let e = one("server 127.127.28.0 minpoll 40\n");
    assert!(matches!(e.kind, ErrorKind::InvalidValue { .. }), "{e}");
    let e = one("server 127.127.20.0 key 3\n");
    assert!(matches!(e.kind, ErrorKind::InvalidValue { .. }), "{e}");
    let e = one("server 127.127.28.0\nfudge 127.127.28.0 stratum 16\n");
    assert_eq!(e.location.line, 2);
    let e = one("fudge 127.127.28.1 refid GPS\n");
    assert!(
        matches!(e.kind, ErrorKind::FudgeWithoutServer { .. }),
        "{e}"
    );
    let e = one("server 127.127.28.0\nserver 127.127.28.0 prefer\n");
    assert!(matches!(e.kind, ErrorKind::Conflict { .. }), "{e}");
    let e = one("peer 127.127.28.0\n");
    assert!(matches!(e.kind, ErrorKind::Conflict { .. }), "{e}");
}

#[test]
fn nmea_and_shm_refclocks_in_ntpds_syntax() {
    use slew_core::refclock::source::Driver;
    let c = super::ok(
        "fudge 127.127.20.0 time2 0.040\n\
         server 127.127.28.0 minpoll 4 maxpoll 4 prefer\n\
         fudge 127.127.28.0 refid GPS time1 0.001 flag1 1\n\
         server 127.127.20.0 mode 17 minpoll 4 noselect\n\
         server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n",
    );
    assert_eq!(c.refclocks.len(), 2);
    let shm = &c.refclocks[0].config;
    assert_eq!((shm.driver, shm.unit, shm.prefer), (Driver::Shm, 0, true));
    assert_eq!((shm.minpoll.log2(), shm.maxpoll.log2()), (4, 4));
    assert_eq!(
        shm.fudge.refid,
        Some(slew_core::wire::RefId::from_ascii(b"GPS\0"))
    );
    assert!(shm.fudge.flag(1));
    assert_eq!(shm.fudge.time1_s, 0.001);
    let nmea = &c.refclocks[1].config;
    assert_eq!(
        (nmea.driver, nmea.mode, nmea.noselect),
        (Driver::Nmea, 17, true)
    );
    assert_eq!(
        nmea.fudge.time2_s, 0.040,
        "a fudge before its server applies"
    );
    assert!(c.refclocks[1].fudge_at.is_some());
    assert_eq!(c.local_clocks.len(), 1);
}

#[test]
fn lexical_errors() {
    let e = one("server 192.0.2.1\nserver \"unterminated\n");
    assert!(matches!(e.kind, ErrorKind::UnterminatedQuote));
    assert_eq!((e.location.line, e.location.column), (2, 8));

    let bytes = b"server 192.0.2.1\nserver \xc3\x28 iburst\n# caf\xe9 is fine in a comment\n";
    let r = parse_with(bytes, Path::new(MAIN), &mut MemLoader::default()).unwrap_err();
    assert_eq!(r.errors.len(), 1);
    assert_eq!(r.errors[0].kind, ErrorKind::InvalidUtf8);
    assert_eq!(
        (r.errors[0].location.line, r.errors[0].location.column),
        (2, 8)
    );
}

#[test]
fn unreadable_and_too_large_main_file() {
    let missing = Path::new("/nonexistent/slew/ntp.conf");
    let r = parse_file(missing).unwrap_err();
    assert_eq!(r.errors.len(), 1);
    assert!(matches!(r.errors[0].kind, ErrorKind::Unreadable { .. }));
    assert_eq!(r.errors[0].location, Location::file(missing));
    assert!(r.errors[0]
        .to_string()
        .starts_with("/nonexistent/slew/ntp.conf: error: cannot read the file"));

    struct Huge;
    impl Loader for Huge {
        fn read(&mut self, _: &Path) -> Result<Vec<u8>, ReadError> {
            Err(ReadError::TooLarge)
        }
    }
    let r = parse_file_with(Path::new(MAIN), &mut Huge).unwrap_err();
    assert_eq!(
        r.errors[0].kind,
        ErrorKind::TooLarge {
            limit: MAX_FILE_SIZE
        }
    );
}

#[test]
fn keys_file_errors_are_config_errors() {
    let mut files = MemLoader::default();
    files.add("/etc/ntp/keys", "1 MD5 ok\n2 SHA256 abc\n");
    let r = parse_mem("keys /etc/ntp/keys\n", files).unwrap_err();
    assert_eq!(r.errors.len(), 1);
    let e = &r.errors[0];
    assert_eq!(e.location, Location::new("/etc/ntp/keys", 2, 3));
    assert!(matches!(e.kind, ErrorKind::BadKey { .. }));
}

#[test]
fn too_many_errors_stops_collecting() {
    let text = "nonsense\n".repeat(MAX_ERRORS * 3);
    let e = errs(&text);
    assert_eq!(e.len(), MAX_ERRORS + 1);
    assert_eq!(
        e[MAX_ERRORS].kind,
        ErrorKind::TooManyErrors { limit: MAX_ERRORS }
    );
}

#[test]
fn every_kind_has_message_and_hint() {
    let kinds = vec![
        ErrorKind::Unreadable { reason: "x".into() },
        ErrorKind::TooLarge { limit: 1 },
        ErrorKind::InvalidUtf8,
        ErrorKind::UnterminatedQuote,
        ErrorKind::UnknownDirective {
            word: "x".into(),
            suggestion: None,
        },
        ErrorKind::Unsupported {
            word: "x".into(),
            what: "directive".into(),
        },
        ErrorKind::UnknownOption {
            directive: "server",
            word: "x".into(),
            suggestion: None,
        },
        ErrorKind::MissingArgument {
            after: "x".into(),
            expected: "y".into(),
        },
        ErrorKind::InvalidNumber {
            after: "x".into(),
            value: "y".into(),
            expected: "z".into(),
        },
        ErrorKind::InvalidAddress {
            value: "x".into(),
            reason: "y".into(),
        },
        ErrorKind::InvalidValue {
            after: "x".into(),
            value: "y".into(),
            expected: "z".into(),
            suggestion: None,
        },
        ErrorKind::UnexpectedArgument {
            directive: "keys",
            word: "x".into(),
        },
        ErrorKind::Conflict {
            message: "x".into(),
            hint: "y".into(),
        },
        ErrorKind::FudgeWithoutServer {
            address: "x".into(),
        },
        ErrorKind::UnsupportedRefclock { driver: 20 },
        ErrorKind::IncludeTooDeep { limit: 5 },
        ErrorKind::TooManyIncludes { limit: 256 },
        ErrorKind::IncludeCycle {
            chain: vec!["/a".into(), "/b".into(), "/a".into()],
        },
        ErrorKind::BadKey {
            reason: "x".into(),
            hint: "y".into(),
        },
        ErrorKind::TooManyErrors { limit: 1 },
    ];
    for k in kinds {
        assert!(!k.message().is_empty(), "{k:?}");
        assert!(!k.hint().is_empty(), "{k:?}");
        let e = ConfigError::new(Location::new("/f", 3, 4), k);
        let s = e.to_string();
        assert!(s.starts_with("/f:3:4: error: "), "{s}");
        assert_eq!(s.lines().count(), 2, "{s}");
        assert!(s.lines().nth(1).unwrap().starts_with("  hint: "), "{s}");
    }
}

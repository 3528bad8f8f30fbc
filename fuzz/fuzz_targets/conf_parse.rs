//! The ntp.conf parser never panics, whatever the bytes, and includes and the keys
//! file come from memory (no filesystem).
#![no_main]

use libfuzzer_sys::fuzz_target;
use slew_linux::config::{self, MemLoader};
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    // Split the input: the main file, and the same bytes as an include and keys file.
    let mut loader = MemLoader::default();
    loader.add("/etc/ntp/inc.conf", data);
    loader.add("/etc/ntp/keys", data);
    let parsed = config::parse_with(data, Path::new("/etc/ntp.conf"), &mut loader);
    // No diagnostic carries a raw control character (only the newline between a
    // message and its hint): hostile bytes are shown escaped.
    let clean = |text: String| {
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && slew_linux::config::escape::needs_escape(c)),
            "{text:?}"
        );
    };
    match parsed {
        Ok(p) => {
            p.warnings.iter().for_each(|w| clean(w.to_string()));
            // Whatever parses must also be distilled without panicking, against a
            // fixed host: no DNS or getifaddrs per fuzz input.
            let host = slew_linux::settings::FixedHost::loopback();
            let _ = slew_linux::settings::access::hardening_from(&p.config, &host);
            if slew_linux::settings::not_honoured(&p.config, &host).is_empty() {
                let overrides = slew_linux::settings::Overrides::default();
                let _ = slew_linux::settings::settings_from(&p.config, &overrides, &host);
            }
        }
        Err(r) => clean(r.to_string()),
    }
});

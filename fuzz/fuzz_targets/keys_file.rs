//! The keys file parser never panics, and every key it accepts fits the core's table.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slew_linux::config::parse_keys;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = parse_keys(data, Path::new("ntp.keys")) {
        for k in &file.keys {
            assert!(k.id != 0);
            assert!(!k.secret.is_empty() && k.secret.len() <= 32, "secret of {} bytes", k.secret.len());
        }
    }
});

//! The NMEA line reader and parser never panic, whatever the bytes and however they
//! are chunked, every sentence they turn into a sample had a valid checksum, and
//! whatever parses holds a valid time of day and date.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slew_core::refclock::nmea::{checksum, frame, parse};
use slew_core::refclock::nmea_mode::{NmeaDriver, NmeaEvent, NmeaMode};
use slew_core::refclock::UnixTime;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    // The first byte picks the mode word and the chunk size.
    let mut driver = NmeaDriver::new(NmeaMode(u32::from(first)));
    let chunk = usize::from(first % 17) + 1;
    let mut lines = 0u64;
    for (k, part) in rest.chunks(chunk).enumerate() {
        let rx = UnixTime::new(1_796_083_200 + k as i64, 0);
        driver.feed(part, rx, |e| {
            lines += 1;
            if let NmeaEvent::Sample(s, _, _) = e {
                assert!(s.offset_s().is_finite());
            }
        });
    }
    assert_eq!(driver.counters().lines, lines);
    // The whole input as one line as well.
    if parse(rest).is_ok() {
        assert!(frame(rest).is_ok());
    }
    // And as the body of a sentence with the right checksum, so that the field
    // parsing (times, dates, status) is reached, not only the checksum check.
    let mut line = Vec::with_capacity(rest.len() + 4);
    line.push(b'$');
    line.extend_from_slice(rest);
    line.extend_from_slice(format!("*{:02X}", checksum(rest)).as_bytes());
    if let Ok(s) = parse(&line) {
        assert!(s.time.hour < 24 && s.time.minute < 60 && s.time.second <= 60);
        assert!(s.time.nanos < 1_000_000_000);
        if let Some(d) = s.date {
            assert!((1..=12).contains(&d.month) && (1..=31).contains(&d.day));
        }
    }
});

//! The NMEA line reader and parser never panic, whatever the bytes and however they
//! are chunked, and every sentence they turn into a sample had a valid checksum.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slew_core::refclock::nmea::{frame, parse};
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
            if let NmeaEvent::Sample(s, _) = e {
                assert!(s.offset_s().is_finite());
            }
        });
    }
    assert_eq!(driver.counters().lines, lines);
    // The whole input as one line as well.
    if parse(rest).is_ok() {
        assert!(frame(rest).is_ok());
    }
});

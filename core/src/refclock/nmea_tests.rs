use super::*;
use crate::refclock::nmea_mode::{NmeaDriver, NmeaEvent, NmeaMode, MODE_GGA, MODE_ZDA};
use crate::refclock::UnixTime;
use proptest::prelude::*;
use std::string::String;
use std::vec::Vec;

/// `$body*hh` with the right checksum.
fn sentence(body: &str) -> String {
    std::format!("${body}*{:02X}", checksum(body.as_bytes()))
}

const RMC: &str = "GPRMC,123519.250,A,4807.038,N,01131.000,E,022.4,084.4,011226,003.1,W";
const GGA: &str = "GNGGA,123519.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,";
const ZDA: &str = "GPZDA,123519.5,01,12,2026,00,00";

#[test]
fn rmc_gga_zda_parse() {
    let s = parse(sentence(RMC).as_bytes()).expect("rmc");
    assert_eq!((s.kind, s.talker), (SentenceKind::Rmc, *b"GP"));
    assert_eq!(
        s.time,
        TimeOfDay {
            hour: 12,
            minute: 35,
            second: 19,
            nanos: 250_000_000
        }
    );
    assert_eq!(
        s.date,
        Some(Date {
            year: 2026,
            month: 12,
            day: 1
        })
    );
    let s = parse(sentence(GGA).as_bytes()).expect("gga");
    assert_eq!(
        (s.kind, s.talker, s.date),
        (SentenceKind::Gga, *b"GN", None)
    );
    assert_eq!(s.time.nanos, 0);
    let s = parse(sentence(ZDA).as_bytes()).expect("zda");
    assert_eq!(s.kind, SentenceKind::Zda);
    assert_eq!(s.time.nanos, 500_000_000);
    assert_eq!(
        s.date,
        Some(Date {
            year: 2026,
            month: 12,
            day: 1
        })
    );
    let s = parse(sentence("GNGLL,4807.038,N,01131.000,E,123519,A,A").as_bytes()).expect("gll");
    assert_eq!((s.kind, s.time.second), (SentenceKind::Gll, 19));
    // A real u-blox line, lower-case checksum digits accepted.
    let body = "GNRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A";
    let lower = std::format!("${body}*{:02x}", checksum(body.as_bytes()));
    let s = parse(lower.as_bytes()).expect("u-blox");
    assert_eq!(
        s.date,
        Some(Date {
            year: 2002,
            month: 12,
            day: 9
        })
    );
}

#[test]
fn no_fix_is_refused_with_its_reason() {
    let v = RMC.replace(",A,", ",V,");
    assert_eq!(parse(sentence(&v).as_bytes()), Err(NmeaError::NoFix));
    let q0 = GGA.replace(",E,1,", ",E,0,");
    assert_eq!(parse(sentence(&q0).as_bytes()), Err(NmeaError::NoFix));
    // Without a fix receivers often leave every field empty: still "no fix".
    assert_eq!(
        parse(sentence("GPRMC,,V,,,,,,,,,,N").as_bytes()),
        Err(NmeaError::NoFix)
    );
    assert_eq!(
        parse(sentence("GPGGA,,,,,,0,00,99.99,,,,,,").as_bytes()),
        Err(NmeaError::NoFix)
    );
    assert_eq!(NmeaError::NoFix.reason(), "receiver has no fix");
}

#[test]
fn framing_and_checksum_errors() {
    let good = sentence(RMC);
    let mut bad = good.clone().into_bytes();
    let n = bad.len();
    bad[n - 1] = if bad[n - 1] == b'0' { b'1' } else { b'0' };
    assert!(matches!(parse(&bad), Err(NmeaError::BadChecksum { .. })));
    // A flipped bit in the body.
    let flipped = good.replacen("4807", "4817", 1);
    assert!(matches!(
        parse(flipped.as_bytes()),
        Err(NmeaError::BadChecksum { .. })
    ));
    assert_eq!(
        parse(std::format!("${RMC}").as_bytes()),
        Err(NmeaError::Truncated)
    );
    assert_eq!(
        parse(std::format!("${RMC}*").as_bytes()),
        Err(NmeaError::Truncated)
    );
    assert_eq!(
        parse(std::format!("${RMC}*G1").as_bytes()),
        Err(NmeaError::Truncated)
    );
    assert_eq!(parse(b"GPRMC,1*00"), Err(NmeaError::NoStart));
    assert_eq!(parse(b""), Err(NmeaError::Truncated));
    assert_eq!(parse(b"$GP\x01RMC*00"), Err(NmeaError::BadByte));
    // Cut short but checksummed: fewer fields than the sentence has.
    assert_eq!(
        parse(sentence("GPRMC,123519,A,4807.038").as_bytes()),
        Err(NmeaError::Truncated)
    );
    assert_eq!(
        parse(sentence("GPGSV,3,1,11,03,03,111,00").as_bytes()),
        Err(NmeaError::UnknownSentence)
    );
    assert_eq!(
        parse(sentence("PUBX,04,073731.00").as_bytes()),
        Err(NmeaError::UnknownSentence)
    );
}

#[test]
fn bad_fields() {
    let t = |s: &str| parse(sentence(s).as_bytes());
    let bad_time = NmeaError::BadField(Field::Time);
    let bad_date = NmeaError::BadField(Field::Date);
    assert_eq!(t(&RMC.replace("123519.250", "243519")), Err(bad_time));
    assert_eq!(t(&RMC.replace("123519.250", "126019")), Err(bad_time));
    assert_eq!(t(&RMC.replace("123519.250", "12351")), Err(bad_time));
    assert_eq!(t(&RMC.replace("123519.250", "123519.x")), Err(bad_time));
    assert_eq!(
        t(&RMC.replace("011226", "310226")),
        Err(bad_date),
        "31 February"
    );
    assert_eq!(t(&RMC.replace("011226", "011326")), Err(bad_date));
    assert_eq!(t(&RMC.replace("011226", "0112")), Err(bad_date));
    assert_eq!(t(&ZDA.replace("2026", "26")), Err(bad_date));
    assert_eq!(
        t(&RMC.replace(",A,", ",X,")),
        Err(NmeaError::BadField(Field::Status))
    );
    assert_eq!(
        t(&GGA.replace(",E,1,", ",E,9,")),
        Err(NmeaError::BadField(Field::Status))
    );
    // 29 February only in leap years; second 60 (a leap second) is a valid time.
    assert!(t(&RMC.replace("011226", "290224")).is_ok());
    assert_eq!(t(&RMC.replace("011226", "290226")), Err(bad_date));
    assert_eq!(
        t(&RMC.replace("123519.250", "235960"))
            .expect("leap second")
            .time
            .second,
        60
    );
}

#[test]
fn line_reader_splits_chunks_and_stamps_first_byte() {
    let mut r: LineReader<u32> = LineReader::new();
    let text = std::format!("{}\r\n{}\r\n", sentence(RMC), sentence(GGA));
    let bytes = text.as_bytes();
    let mut got: Vec<(u32, Vec<u8>)> = Vec::new();
    // The first line arrives over two reads (stamps 1, 2), the second in read 2.
    let cut = 10;
    r.feed(&bytes[..cut], 1, |t, l| {
        got.push((t, l.expect("line").to_vec()))
    });
    assert!(got.is_empty());
    r.feed(&bytes[cut..], 2, |t, l| {
        got.push((t, l.expect("line").to_vec()))
    });
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0],
        (1, sentence(RMC).into_bytes()),
        "stamped when '$' came"
    );
    assert_eq!(got[1], (2, sentence(GGA).into_bytes()));
}

#[test]
fn line_reader_drops_overlong_lines() {
    let mut r: LineReader<u8> = LineReader::new();
    let long = std::vec![b'A'; MAX_LINE + 10];
    let mut got = Vec::new();
    r.feed(&long, 0, |_, l| got.push(l.map(|b| b.len())));
    r.feed(b"\n$X\n", 1, |_, l| got.push(l.map(|b| b.len())));
    assert_eq!(got, std::vec![Err(NmeaError::TooLong), Ok(2)]);
}

#[test]
fn driver_uses_first_sentence_of_each_second() {
    let mut d = NmeaDriver::new(NmeaMode(0));
    let rx = UnixTime::new(1_796_128_519, 0); // 2026-12-01 12:35:19
    let mut events = Vec::new();
    let text = std::format!(
        "{}\r\n{}\r\n{}\r\n",
        sentence(RMC),
        sentence(GGA),
        sentence("GPGSV,3,1,11,03,03,111,00")
    );
    d.feed(text.as_bytes(), rx, |e| events.push(std::format!("{e:?}")));
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events[0].starts_with("Sample"), "{events:?}");
    // GGA names the same second (12:35:19.00 against RMC's 12:35:19.25): not used.
    assert!(events[1].starts_with("Filtered(Gga)"), "{events:?}");
    assert!(events[2].contains("UnknownSentence"));
    // The same second again: filtered.
    d.feed(std::format!("{}\r\n", sentence(RMC)).as_bytes(), rx, |e| {
        assert!(matches!(e, NmeaEvent::Filtered(SentenceKind::Rmc)), "{e:?}")
    });
    let c = d.counters();
    assert_eq!((c.lines, c.accepted, c.unknown, c.filtered), (4, 1, 1, 2));
}

#[test]
fn driver_offset_and_mode_bits() {
    // Sentence time = rx + 40 ms.
    let rx = UnixTime::new(1_796_128_518, 960_000_000);
    let mut d = NmeaDriver::new(NmeaMode(MODE_ZDA));
    let mut offsets = Vec::new();
    let mut filtered = 0;
    let text = std::format!(
        "{}\r\n{}\r\n",
        sentence(&RMC.replace(".250", ".000")),
        sentence(&ZDA.replace(".5", ""))
    );
    d.feed(text.as_bytes(), rx, |e| match e {
        NmeaEvent::Sample(s, _, _) => offsets.push(s.offset_s()),
        NmeaEvent::Filtered(_) => filtered += 1,
        NmeaEvent::Rejected(e, _) => panic!("{e:?}"),
    });
    assert_eq!(filtered, 1, "RMC not selected by mode 8");
    assert_eq!(offsets.len(), 1);
    assert!((offsets[0] - 0.040).abs() < 1e-9, "{offsets:?}");
    assert!(NmeaMode(MODE_GGA).accepts(SentenceKind::Gga));
    assert!(!NmeaMode(MODE_GGA).accepts(SentenceKind::Rmc));
    assert!(
        NmeaMode(0x10).accepts(SentenceKind::Rmc),
        "baud bits only: all sentences"
    );
    assert_eq!(NmeaMode(0).baud(), Some(4800));
    assert_eq!(NmeaMode(0x10).baud(), Some(9600));
    assert_eq!(NmeaMode(0x51).baud(), Some(115_200));
    assert_eq!(NmeaMode(0x60).baud(), None);
}

#[test]
fn dateless_sentence_takes_the_nearest_day() {
    use crate::refclock::nmea_mode::reference_time;
    let s = parse(sentence(&GGA.replace("123519.00", "235959.00")).as_bytes()).expect("gga");
    // Received just after midnight (the sentence was late): yesterday's 23:59:59.
    let rx = UnixTime::new(1_796_083_200 + 2, 0); // 2026-12-01 00:00:02
    assert_eq!(reference_time(&s, rx).secs, 1_796_083_200 - 1);
    let s = parse(sentence(&GGA.replace("123519.00", "000001.00")).as_bytes()).expect("gga");
    let rx = UnixTime::new(1_796_083_200 - 3, 0); // 2026-11-30 23:59:57
    assert_eq!(reference_time(&s, rx).secs, 1_796_083_200 + 1);
}

proptest! {
    /// No input makes the parser panic, and whatever it accepts had a valid checksum.
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if parse(&bytes).is_ok() {
            prop_assert!(frame(&bytes).is_ok());
        }
    }

    /// A valid RMC survives any chunking of the stream.
    #[test]
    fn chunking_does_not_matter(cuts in proptest::collection::vec(1usize..20, 1..20)) {
        let text = std::format!("junk\r\n{}\r\n{}\r\n", sentence(RMC), sentence(ZDA));
        let bytes = text.as_bytes();
        let mut r: LineReader<()> = LineReader::new();
        let mut ok = 0;
        let mut at = 0;
        for c in cuts.iter().cycle() {
            if at >= bytes.len() { break; }
            let end = (at + c).min(bytes.len());
            r.feed(&bytes[at..end], (), |_, l| {
                if l.is_ok_and(|l| parse(l).is_ok()) { ok += 1; }
            });
            at = end;
        }
        prop_assert_eq!(ok, 2);
    }

    /// Any time and date written by a receiver parses back to itself.
    #[test]
    fn formatted_sentences_round_trip(
        h in 0u8..24, m in 0u8..60, s in 0u8..60, ms in 0u32..1000,
        day in 1u8..29, month in 1u8..13, yy in 0u16..100,
    ) {
        let body = std::format!("GPRMC,{h:02}{m:02}{s:02}.{ms:03},A,4807.038,N,01131.000,E,0.0,0.0,{day:02}{month:02}{yy:02},,");
        let got = parse(sentence(&body).as_bytes()).expect("parses");
        prop_assert_eq!(got.time, TimeOfDay { hour: h, minute: m, second: s, nanos: ms * 1_000_000 });
        prop_assert_eq!(got.date, Some(Date { year: 2000 + yy, month, day }));
    }
}

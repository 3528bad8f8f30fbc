//! NMEA 0183 sentences from a GPS receiver: framing, checksum and the time-bearing
//! sentences ntpd's NMEA driver (type 20) uses — `RMC`, `GGA`, `GLL` and `ZDA`, with
//! any talker (`GP`, `GN`, `GL`, `GA`, …).
//!
//! [`LineReader`] cuts a byte stream (chunks of any size, as a UART or a tty read
//! hands them over) into lines in a fixed buffer and remembers, for each line, the
//! stamp of the chunk its `$` came in: the port's receive time of the sentence's first
//! byte, which is as close to the receiver's "on time" as a serial line lets us get.
//! [`parse`] turns one line into a [`Sentence`] or a typed [`NmeaError`]; it never
//! panics, whatever the bytes (a fuzz target holds it to that).
//!
//! Every sentence must carry its `*hh` checksum and it must match: modern receivers
//! send one on every sentence. (ntpd accepts sentences other than RMC without one until
//! it has seen that sentence with one; slew is stricter.)

/// Longest line kept, bytes, without CR/LF. NMEA 0183 allows 82 characters including
/// `$` and CR LF; receivers' proprietary sentences run longer, so there is room for
/// them, and anything longer is dropped as [`NmeaError::TooLong`].
pub const MAX_LINE: usize = 128;

/// Which sentence a line was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SentenceKind {
    /// Recommended minimum: time, status A/V, position, date (ddmmyy).
    Rmc,
    /// Fix data: time, position, fix quality (0 = no fix).
    Gga,
    /// Geographic position: position, time, status A/V.
    Gll,
    /// Time and date (dd, mm, yyyy): no fix status at all.
    Zda,
}

impl SentenceKind {
    /// The bit of ntpd's NMEA `mode` that selects this sentence.
    pub const fn mode_bit(self) -> u32 {
        match self {
            SentenceKind::Rmc => super::nmea_mode::MODE_RMC,
            SentenceKind::Gga => super::nmea_mode::MODE_GGA,
            SentenceKind::Gll => super::nmea_mode::MODE_GLL,
            SentenceKind::Zda => super::nmea_mode::MODE_ZDA,
        }
    }

    /// Three-letter name, as in the sentence.
    pub const fn name(self) -> &'static str {
        match self {
            SentenceKind::Rmc => "RMC",
            SentenceKind::Gga => "GGA",
            SentenceKind::Gll => "GLL",
            SentenceKind::Zda => "ZDA",
        }
    }
}

/// UTC time of day as the receiver sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay {
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–60 (60 only in a leap second).
    pub second: u8,
    /// Fraction of the second, nanoseconds (receivers send up to milliseconds).
    pub nanos: u32,
}

impl TimeOfDay {
    /// Seconds since midnight, without the fraction.
    pub const fn seconds_of_day(self) -> u32 {
        self.hour as u32 * 3600 + self.minute as u32 * 60 + self.second as u32
    }
}

/// A calendar date (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Full year. RMC sends two digits; they are taken as 2000–2099.
    pub year: u16,
    /// 1–12.
    pub month: u8,
    /// 1–31 (checked against the month).
    pub day: u8,
}

/// One time-bearing sentence with a fix (or, for ZDA, with no fix status to check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sentence {
    /// Which sentence.
    pub kind: SentenceKind,
    /// Talker id: `GP` (GPS), `GN` (combined GNSS), `GL`, `GA`, `BD`, …
    pub talker: [u8; 2],
    /// UTC time of day.
    pub time: TimeOfDay,
    /// The date, where the sentence has one (RMC, ZDA).
    pub date: Option<Date>,
}

/// A field of a sentence, for [`NmeaError::BadField`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The UTC time (hhmmss[.sss]).
    Time,
    /// RMC's ddmmyy, or ZDA's day, month and year.
    Date,
    /// RMC's or GLL's status (A/V), GGA's fix quality (0–8).
    Status,
}

/// Why a line gave no sentence. Each is counted and logged by the port (rate-limited),
/// never followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NmeaError {
    /// The line does not start with `$` (noise, a partial line after a reopen, or
    /// `!` encapsulated sentences).
    NoStart,
    /// The line is longer than [`MAX_LINE`]; it was dropped up to the next newline.
    TooLong,
    /// No `*hh` checksum at the end, or the sentence has fewer fields than it needs:
    /// the line was cut short.
    Truncated,
    /// The checksum does not match the bytes (line noise).
    BadChecksum {
        /// XOR of the bytes between `$` and `*`.
        computed: u8,
        /// What the sentence says.
        received: u8,
    },
    /// A well-formed sentence that carries no time we use (`GSV`, `VTG`, `PUBX`, …).
    UnknownSentence,
    /// A field does not hold what the sentence defines (a time of 25:00, a 31 February).
    BadField(Field),
    /// The receiver says it has no fix (RMC/GLL status `V`, GGA quality 0): its time
    /// may be a free-running guess, so it is not used.
    NoFix,
    /// A byte outside printable ASCII inside the line.
    BadByte,
}

impl NmeaError {
    /// A short reason for logs and monitoring.
    pub const fn reason(self) -> &'static str {
        match self {
            NmeaError::NoStart => "line does not start with '$'",
            NmeaError::TooLong => "line too long",
            NmeaError::Truncated => "sentence truncated (no checksum or missing fields)",
            NmeaError::BadChecksum { .. } => "bad checksum",
            NmeaError::UnknownSentence => "sentence carries no time we use",
            NmeaError::BadField(Field::Time) => "bad time field",
            NmeaError::BadField(Field::Date) => "bad date field",
            NmeaError::BadField(Field::Status) => "bad status field",
            NmeaError::NoFix => "receiver has no fix",
            NmeaError::BadByte => "non-printable byte in sentence",
        }
    }
}

impl core::fmt::Display for NmeaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NmeaError::BadChecksum { computed, received } => write!(
                f,
                "bad checksum (computed {computed:02X}, sentence says {received:02X})"
            ),
            e => f.write_str(e.reason()),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for NmeaError {}

/// Cuts a byte stream into lines; `T` is the port's stamp of a chunk (a receive
/// time), handed back with each line whose `$` arrived in that chunk.
#[derive(Clone, Debug)]
pub struct LineReader<T: Copy> {
    buf: heapless::Vec<u8, MAX_LINE>,
    /// Stamp of the chunk in which the current line's first byte arrived.
    started: Option<T>,
    /// The current line outgrew the buffer: drop the rest of it.
    overflow: bool,
}

impl<T: Copy> Default for LineReader<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy> LineReader<T> {
    /// An empty reader.
    pub const fn new() -> Self {
        Self {
            buf: heapless::Vec::new(),
            started: None,
            overflow: false,
        }
    }

    /// Forget a partial line (the device was reopened).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.started = None;
        self.overflow = false;
    }

    /// Feed one chunk, received at `stamp`. `on_line` gets, for each line completed
    /// in this chunk, the stamp of its first byte and the line without CR/LF (or
    /// `Err(TooLong)`). Empty lines (the LF of CR LF, blank lines) are skipped.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        stamp: T,
        mut on_line: impl FnMut(T, Result<&[u8], NmeaError>),
    ) {
        for &b in chunk {
            match b {
                b'\r' | b'\n' => {
                    let started = self.started.take();
                    if let Some(at) = started {
                        if self.overflow {
                            on_line(at, Err(NmeaError::TooLong));
                        } else {
                            on_line(at, Ok(&self.buf));
                        }
                    }
                    self.buf.clear();
                    self.overflow = false;
                }
                _ => {
                    if self.started.is_none() {
                        self.started = Some(stamp);
                    }
                    if !self.overflow && self.buf.push(b).is_err() {
                        self.overflow = true;
                    }
                }
            }
        }
    }
}

/// XOR of the bytes, the NMEA checksum.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Checks framing and checksum; returns the body between `$` and `*`.
pub fn frame(line: &[u8]) -> Result<&[u8], NmeaError> {
    let Some((&first, rest)) = line.split_first() else {
        return Err(NmeaError::Truncated);
    };
    if first != b'$' {
        return Err(NmeaError::NoStart);
    }
    if rest.iter().any(|&b| !(0x20..0x7f).contains(&b)) {
        return Err(NmeaError::BadByte);
    }
    let Some(star) = rest.iter().rposition(|&b| b == b'*') else {
        return Err(NmeaError::Truncated);
    };
    let (body, tail) = rest.split_at(star);
    let digits = tail.get(1..).unwrap_or(&[]);
    let received = match digits {
        [hi, lo] => match (hex_digit(*hi), hex_digit(*lo)) {
            (Some(h), Some(l)) => (h << 4) | l,
            _ => return Err(NmeaError::Truncated),
        },
        _ => return Err(NmeaError::Truncated),
    };
    let computed = checksum(body);
    if computed != received {
        return Err(NmeaError::BadChecksum { computed, received });
    }
    Ok(body)
}

/// Parses one line (without CR/LF): framing, checksum, then the sentence.
pub fn parse(line: &[u8]) -> Result<Sentence, NmeaError> {
    let body = frame(line)?;
    let mut fields = body.split(|&b| b == b',');
    let tag = fields.next().unwrap_or(&[]);
    // Talker (2 letters) + sentence (3 letters). Proprietary `P…` tags and anything
    // else carry nothing we use.
    let (talker, kind) = match tag {
        [t0, t1, s0, s1, s2]
            if t0.is_ascii_uppercase() && *t0 != b'P' && t1.is_ascii_uppercase() =>
        {
            let kind = match [*s0, *s1, *s2] {
                [b'R', b'M', b'C'] => SentenceKind::Rmc,
                [b'G', b'G', b'A'] => SentenceKind::Gga,
                [b'G', b'L', b'L'] => SentenceKind::Gll,
                [b'Z', b'D', b'A'] => SentenceKind::Zda,
                _ => return Err(NmeaError::UnknownSentence),
            };
            ([*t0, *t1], kind)
        }
        _ => return Err(NmeaError::UnknownSentence),
    };
    // Fields after the tag, 0-based: at most 24 are looked at.
    let mut f: [&[u8]; 24] = [&[]; 24];
    let mut n = 0;
    for (slot, field) in f.iter_mut().zip(fields) {
        *slot = field;
        n += 1;
    }
    let need = match kind {
        SentenceKind::Rmc => 9, // time, status, lat, N, lon, E, speed, track, date
        SentenceKind::Gga => 6, // time, lat, N, lon, E, quality
        SentenceKind::Gll => 6, // lat, N, lon, E, time, status
        SentenceKind::Zda => 4, // time, day, month, year
    };
    if n < need {
        return Err(NmeaError::Truncated);
    }
    // The fix is judged first: a receiver without a fix often sends empty time and
    // date fields, and "no fix" is the reason worth reporting.
    let (time_f, status_ok) = match kind {
        SentenceKind::Rmc => (f[0], status_av(f[1])?),
        SentenceKind::Gga => (f[0], gga_quality(f[5])?),
        SentenceKind::Gll => (f[4], status_av(f[5])?),
        SentenceKind::Zda => (f[0], true),
    };
    if !status_ok {
        return Err(NmeaError::NoFix);
    }
    let date = match kind {
        SentenceKind::Rmc => Some(date_ddmmyy(f[8])?),
        SentenceKind::Zda => Some(date_zda(f[1], f[2], f[3])?),
        SentenceKind::Gga | SentenceKind::Gll => None,
    };
    let time = time_of_day(time_f)?;
    Ok(Sentence {
        kind,
        talker,
        time,
        date,
    })
}

/// A/V status: true for A (valid). NMEA 2.3 adds a mode indicator field, but the
/// status field stays where it is.
fn status_av(f: &[u8]) -> Result<bool, NmeaError> {
    match f {
        b"A" => Ok(true),
        b"V" => Ok(false),
        _ => Err(NmeaError::BadField(Field::Status)),
    }
}

/// GGA fix quality: 0 = invalid, 1–8 valid kinds of fix (6 = dead reckoning, which
/// ntpd accepts too: it only refuses 0).
fn gga_quality(f: &[u8]) -> Result<bool, NmeaError> {
    match f {
        [d @ b'0'..=b'8'] => Ok(*d != b'0'),
        [] => Ok(false), // some receivers leave it empty without a fix
        _ => Err(NmeaError::BadField(Field::Status)),
    }
}

fn digits(f: &[u8]) -> Option<u32> {
    if f.is_empty() || f.len() > 9 {
        return None;
    }
    f.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn two(f: &[u8], at: usize) -> Option<u8> {
    let d = f.get(at..at + 2)?;
    digits(d).and_then(|v| u8::try_from(v).ok())
}

/// hhmmss[.f…] with up to 9 fraction digits.
fn time_of_day(f: &[u8]) -> Result<TimeOfDay, NmeaError> {
    let bad = NmeaError::BadField(Field::Time);
    let (whole, frac) = match f.iter().position(|&b| b == b'.') {
        Some(dot) => (&f[..dot], &f[dot + 1..]),
        None => (f, &[][..]),
    };
    if whole.len() != 6 || frac.len() > 9 {
        return Err(bad);
    }
    let (hour, minute, second) = match (two(whole, 0), two(whole, 2), two(whole, 4)) {
        (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s <= 60 => (h, m, s),
        _ => return Err(bad),
    };
    let nanos = if frac.is_empty() {
        0
    } else {
        let v = digits(frac).ok_or(bad)?;
        // Scale to 9 digits: "5" is 500 ms, "123" is 123 ms.
        v * 10u32.pow(9 - frac.len() as u32)
    };
    Ok(TimeOfDay {
        hour,
        minute,
        second,
        nanos,
    })
}

fn check_date(year: u16, month: u8, day: u8) -> Result<Date, NmeaError> {
    let ok = (1..=12).contains(&month)
        && day >= 1
        && day <= super::civil::days_in_month(i32::from(year), month);
    if ok {
        Ok(Date { year, month, day })
    } else {
        Err(NmeaError::BadField(Field::Date))
    }
}

fn date_ddmmyy(f: &[u8]) -> Result<Date, NmeaError> {
    let bad = NmeaError::BadField(Field::Date);
    if f.len() != 6 {
        return Err(bad);
    }
    match (two(f, 0), two(f, 2), two(f, 4)) {
        (Some(d), Some(m), Some(y)) => check_date(2000 + u16::from(y), m, d),
        _ => Err(bad),
    }
}

fn date_zda(day: &[u8], month: &[u8], year: &[u8]) -> Result<Date, NmeaError> {
    let bad = NmeaError::BadField(Field::Date);
    if day.len() != 2 || month.len() != 2 || year.len() != 4 {
        return Err(bad);
    }
    match (digits(day), digits(month), digits(year)) {
        (Some(d), Some(m), Some(y)) if y >= 1980 => {
            check_date(y as u16, m as u8, d as u8).map_err(|_| bad)
        }
        _ => Err(bad),
    }
}

#[cfg(test)]
#[path = "nmea_tests.rs"]
mod tests;

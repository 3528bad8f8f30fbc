//! The 48-byte NTP header: the [`Packet`] view and the [`Repr`] representation.

use core::ops::Range;

use super::ext::{self, ExtensionIter, Mac};
use super::refid::{KissCode, RefId};
use super::{Error, HEADER_LEN};
use crate::clock::LeapIndicator;
use crate::time::{NtpShort, NtpTimestamp};

/// Byte ranges of the header fields (RFC 5905 §7.3, Figure 8).
mod field {
    use core::ops::Range;

    /// One byte at this index.
    pub type Byte = usize;
    /// A big-endian field over these bytes.
    pub type Field = Range<usize>;

    /// Leap indicator (bits 7–6), version (5–3), mode (2–0).
    pub const LI_VN_MODE: Byte = 0;
    pub const STRATUM: Byte = 1;
    pub const POLL: Byte = 2;
    pub const PRECISION: Byte = 3;
    pub const ROOT_DELAY: Field = 4..8;
    pub const ROOT_DISPERSION: Field = 8..12;
    pub const REF_ID: Field = 12..16;
    pub const REFERENCE_TS: Field = 16..24;
    pub const ORIGIN_TS: Field = 24..32;
    pub const RECEIVE_TS: Field = 32..40;
    pub const TRANSMIT_TS: Field = 40..48;
}

/// Association mode (RFC 5905 §7.3, Figure 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 0: reserved.
    Reserved,
    /// 1: symmetric active.
    SymmetricActive,
    /// 2: symmetric passive.
    SymmetricPassive,
    /// 3: client.
    Client,
    /// 4: server.
    Server,
    /// 5: broadcast.
    Broadcast,
    /// 6: NTP control message (`ntpq`), a different header layout.
    Control,
    /// 7: reserved for private use (`ntpdc`), a different header layout.
    Private,
}

impl Mode {
    /// From the three low bits of `bits` (higher bits are ignored), so that
    /// `Mode::from_bits(first_byte)` reads the mode out of a packet's first byte.
    pub const fn from_bits(bits: u8) -> Mode {
        match bits & 0b111 {
            0 => Mode::Reserved,
            1 => Mode::SymmetricActive,
            2 => Mode::SymmetricPassive,
            3 => Mode::Client,
            4 => Mode::Server,
            5 => Mode::Broadcast,
            6 => Mode::Control,
            _ => Mode::Private,
        }
    }

    /// The three bits for the wire.
    pub const fn to_bits(self) -> u8 {
        match self {
            Mode::Reserved => 0,
            Mode::SymmetricActive => 1,
            Mode::SymmetricPassive => 2,
            Mode::Client => 3,
            Mode::Server => 4,
            Mode::Broadcast => 5,
            Mode::Control => 6,
            Mode::Private => 7,
        }
    }
}

/// Reads a big-endian `N`-byte field; bytes missing from a short buffer read as zero.
fn read_array<const N: usize>(buf: &[u8], range: Range<usize>) -> [u8; N] {
    buf.get(range)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

/// Writes an `N`-byte field; does nothing if the buffer is too short.
fn write_array<const N: usize>(buf: &mut [u8], range: Range<usize>, bytes: [u8; N]) {
    if let Some(dst) = buf
        .get_mut(range)
        .and_then(|s| <&mut [u8; N]>::try_from(s).ok())
    {
        *dst = bytes;
    }
}

fn read_byte(buf: &[u8], index: usize) -> u8 {
    buf.get(index).copied().unwrap_or(0)
}

fn write_byte(buf: &mut [u8], index: usize, value: u8) {
    if let Some(b) = buf.get_mut(index) {
        *b = value;
    }
}

/// A read/write view of an NTP packet in a buffer.
///
/// Build it with [`Packet::new_checked`] for untrusted bytes; see the
/// [module docs](super) for what that guarantees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it. Getters never panic, but read zeros past
    /// the end of a short buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer after [`Packet::check_len`] accepted it.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds a whole header, a version from 1 to 4 and a
    /// trailer of extension fields and/or a MAC that walks cleanly to the end of the
    /// buffer (rules in the [module docs](super#trailer-rules)).
    ///
    /// Unlike smoltcp's `check_len`, this also checks the version, because the trailer
    /// rules depend on it.
    pub fn check_len(&self) -> Result<(), Error> {
        let buf = self.buffer.as_ref();
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        let version = self.version();
        if !(1..=4).contains(&version) {
            return Err(Error::BadVersion(version));
        }
        ext::walk(self.trailer(), version == 4).map(|_| ())
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, index: usize) -> u8 {
        read_byte(self.buffer.as_ref(), index)
    }

    fn u32_at(&self, range: Range<usize>) -> u32 {
        u32::from_be_bytes(read_array(self.buffer.as_ref(), range))
    }

    fn u64_at(&self, range: Range<usize>) -> u64 {
        u64::from_be_bytes(read_array(self.buffer.as_ref(), range))
    }

    /// Leap indicator.
    pub fn leap(&self) -> LeapIndicator {
        LeapIndicator::from_bits(self.byte(field::LI_VN_MODE) >> 6)
    }

    /// Version number (1–4 in a checked packet; 0–7 otherwise).
    pub fn version(&self) -> u8 {
        (self.byte(field::LI_VN_MODE) >> 3) & 0b111
    }

    /// Association mode.
    pub fn mode(&self) -> Mode {
        Mode::from_bits(self.byte(field::LI_VN_MODE))
    }

    /// Stratum (0: unspecified or kiss-o'-death, 1: primary, 2–15: secondary,
    /// 16: unsynchronised).
    pub fn stratum(&self) -> u8 {
        self.byte(field::STRATUM)
    }

    /// Poll interval, log2 seconds.
    pub fn poll(&self) -> i8 {
        i8::from_be_bytes([self.byte(field::POLL)])
    }

    /// Precision of the sender's clock, log2 seconds.
    pub fn precision(&self) -> i8 {
        i8::from_be_bytes([self.byte(field::PRECISION)])
    }

    /// Total round-trip delay to the reference clock.
    pub fn root_delay(&self) -> NtpShort {
        NtpShort::from_bits(self.u32_at(field::ROOT_DELAY))
    }

    /// Total dispersion to the reference clock.
    pub fn root_dispersion(&self) -> NtpShort {
        NtpShort::from_bits(self.u32_at(field::ROOT_DISPERSION))
    }

    /// Reference id (a kiss code when [`Packet::is_kiss`]).
    pub fn ref_id(&self) -> RefId {
        RefId::from_bytes(read_array(self.buffer.as_ref(), field::REF_ID))
    }

    /// Time the sender's clock was last set or corrected.
    pub fn reference_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp::from_bits(self.u64_at(field::REFERENCE_TS))
    }

    /// T1: the request's transmit time, echoed by the server.
    pub fn origin_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp::from_bits(self.u64_at(field::ORIGIN_TS))
    }

    /// T2: when the server received the request.
    pub fn receive_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp::from_bits(self.u64_at(field::RECEIVE_TS))
    }

    /// T3: when the sender sent this packet.
    pub fn transmit_timestamp(&self) -> NtpTimestamp {
        NtpTimestamp::from_bits(self.u64_at(field::TRANSMIT_TS))
    }

    /// The bytes after the 48-byte header (empty for a short buffer).
    pub fn trailer(&self) -> &[u8] {
        self.buffer.as_ref().get(HEADER_LEN..).unwrap_or(&[])
    }

    /// The RFC 7822 extension fields, in order. Empty for versions other than 4.
    ///
    /// On a checked packet this yields every field; on an unchecked one it stops at
    /// the first malformed one.
    pub fn extensions(&self) -> ExtensionIter<'_> {
        ExtensionIter::new(self.trailer(), self.version() == 4)
    }

    /// The MAC trailer (key id and 16- or 20-byte digest) or crypto-NAK (a key id of 0
    /// alone), if the packet ends with one. `None` on an unchecked, malformed packet.
    pub fn mac(&self) -> Option<Mac<'_>> {
        ext::walk(self.trailer(), self.version() == 4)
            .ok()
            .flatten()
    }

    /// A kiss-o'-death: leap = 3 (unsynchronised), stratum 0, mode server (§7.4).
    pub fn is_kiss(&self) -> bool {
        self.leap() == LeapIndicator::Unsynchronized
            && self.stratum() == 0
            && self.mode() == Mode::Server
    }

    /// The kiss code if this is a kiss-o'-death packet.
    pub fn kiss_code(&self) -> Option<KissCode> {
        if self.is_kiss() {
            Some(self.ref_id().kiss_code())
        } else {
            None
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_byte(&mut self, index: usize, value: u8) {
        write_byte(self.buffer.as_mut(), index, value);
    }

    fn set_u32_at(&mut self, range: Range<usize>, value: u32) {
        write_array(self.buffer.as_mut(), range, value.to_be_bytes());
    }

    fn set_u64_at(&mut self, range: Range<usize>, value: u64) {
        write_array(self.buffer.as_mut(), range, value.to_be_bytes());
    }

    /// Sets the leap indicator.
    pub fn set_leap(&mut self, leap: LeapIndicator) {
        let b = self.byte(field::LI_VN_MODE);
        self.set_byte(field::LI_VN_MODE, (b & 0x3f) | (leap.to_bits() << 6));
    }

    /// Sets the version number (only its low 3 bits are kept).
    pub fn set_version(&mut self, version: u8) {
        let b = self.byte(field::LI_VN_MODE);
        self.set_byte(field::LI_VN_MODE, (b & 0xc7) | ((version & 0b111) << 3));
    }

    /// Sets the association mode.
    pub fn set_mode(&mut self, mode: Mode) {
        let b = self.byte(field::LI_VN_MODE);
        self.set_byte(field::LI_VN_MODE, (b & 0xf8) | mode.to_bits());
    }

    /// Sets the stratum.
    pub fn set_stratum(&mut self, stratum: u8) {
        self.set_byte(field::STRATUM, stratum);
    }

    /// Sets the poll interval, log2 seconds.
    pub fn set_poll(&mut self, poll: i8) {
        let [b] = poll.to_be_bytes();
        self.set_byte(field::POLL, b);
    }

    /// Sets the precision, log2 seconds.
    pub fn set_precision(&mut self, precision: i8) {
        let [b] = precision.to_be_bytes();
        self.set_byte(field::PRECISION, b);
    }

    /// Sets the root delay.
    pub fn set_root_delay(&mut self, value: NtpShort) {
        self.set_u32_at(field::ROOT_DELAY, value.to_bits());
    }

    /// Sets the root dispersion.
    pub fn set_root_dispersion(&mut self, value: NtpShort) {
        self.set_u32_at(field::ROOT_DISPERSION, value.to_bits());
    }

    /// Sets the reference id.
    pub fn set_ref_id(&mut self, value: RefId) {
        write_array(self.buffer.as_mut(), field::REF_ID, value.to_bytes());
    }

    /// Sets the reference timestamp.
    pub fn set_reference_timestamp(&mut self, value: NtpTimestamp) {
        self.set_u64_at(field::REFERENCE_TS, value.to_bits());
    }

    /// Sets the origin timestamp (T1).
    pub fn set_origin_timestamp(&mut self, value: NtpTimestamp) {
        self.set_u64_at(field::ORIGIN_TS, value.to_bits());
    }

    /// Sets the receive timestamp (T2).
    pub fn set_receive_timestamp(&mut self, value: NtpTimestamp) {
        self.set_u64_at(field::RECEIVE_TS, value.to_bits());
    }

    /// Sets the transmit timestamp (T3).
    pub fn set_transmit_timestamp(&mut self, value: NtpTimestamp) {
        self.set_u64_at(field::TRANSMIT_TS, value.to_bits());
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Packet<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// The 48-byte NTP header as values (no extension fields, no MAC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// Leap indicator.
    pub leap: LeapIndicator,
    /// Version, 1–4.
    pub version: u8,
    /// Association mode.
    pub mode: Mode,
    /// Stratum.
    pub stratum: u8,
    /// Poll interval, log2 seconds.
    pub poll: i8,
    /// Precision, log2 seconds.
    pub precision: i8,
    /// Root delay.
    pub root_delay: NtpShort,
    /// Root dispersion.
    pub root_dispersion: NtpShort,
    /// Reference id.
    pub ref_id: RefId,
    /// Reference timestamp.
    pub reference_timestamp: NtpTimestamp,
    /// Origin timestamp (T1).
    pub origin_timestamp: NtpTimestamp,
    /// Receive timestamp (T2).
    pub receive_timestamp: NtpTimestamp,
    /// Transmit timestamp (T3).
    pub transmit_timestamp: NtpTimestamp,
}

impl Repr {
    /// Reads the header out of a packet, checking it first (so an unchecked packet
    /// over bad bytes gives an [`Error`], never garbage). The trailer is validated but
    /// not represented: read it with [`Packet::extensions`] and [`Packet::mac`].
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&T>) -> Result<Repr, Error> {
        packet.check_len()?;
        Ok(Repr {
            leap: packet.leap(),
            version: packet.version(),
            mode: packet.mode(),
            stratum: packet.stratum(),
            poll: packet.poll(),
            precision: packet.precision(),
            root_delay: packet.root_delay(),
            root_dispersion: packet.root_dispersion(),
            ref_id: packet.ref_id(),
            reference_timestamp: packet.reference_timestamp(),
            origin_timestamp: packet.origin_timestamp(),
            receive_timestamp: packet.receive_timestamp(),
            transmit_timestamp: packet.transmit_timestamp(),
        })
    }

    /// Bytes [`Repr::emit`] writes: always [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the 48 header bytes at the start of the packet's buffer; bytes after
    /// them are left alone. The version is written modulo 8. A buffer shorter than
    /// [`Repr::buffer_len`] keeps only the fields that fit.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_byte(
            field::LI_VN_MODE,
            (self.leap.to_bits() << 6) | ((self.version & 0b111) << 3) | self.mode.to_bits(),
        );
        packet.set_stratum(self.stratum);
        packet.set_poll(self.poll);
        packet.set_precision(self.precision);
        packet.set_root_delay(self.root_delay);
        packet.set_root_dispersion(self.root_dispersion);
        packet.set_ref_id(self.ref_id);
        packet.set_reference_timestamp(self.reference_timestamp);
        packet.set_origin_timestamp(self.origin_timestamp);
        packet.set_receive_timestamp(self.receive_timestamp);
        packet.set_transmit_timestamp(self.transmit_timestamp);
    }

    /// A client request: version 4, mode 3, the given poll and transmit timestamp,
    /// every other field zero (leap "no warning", stratum 0, refid 0). The transmit
    /// timestamp is what the server echoes as origin; RFC 9109 suggests a random one.
    pub fn client_request(transmit: NtpTimestamp, poll: i8) -> Repr {
        Repr {
            leap: LeapIndicator::NoWarning,
            version: 4,
            mode: Mode::Client,
            stratum: 0,
            poll,
            precision: 0,
            root_delay: NtpShort::ZERO,
            root_dispersion: NtpShort::ZERO,
            ref_id: RefId::from_bytes([0; 4]),
            reference_timestamp: NtpTimestamp::ZERO,
            origin_timestamp: NtpTimestamp::ZERO,
            receive_timestamp: NtpTimestamp::ZERO,
            transmit_timestamp: transmit,
        }
    }
}

#[cfg(test)]
#[path = "header_tests.rs"]
mod tests;

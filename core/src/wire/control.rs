//! NTP control messages (mode 6): the 12-byte header view [`ControlPacket`] and its
//! representation [`ControlRepr`], as `ntpq` and `ntpstat` speak them.
//!
//! The layout (RFC 1305 appendix B, kept by ntpd 4 and ntpsec):
//!
//! | bytes | field |
//! |---|---|
//! | 0 | leap (2 bits), version (3), mode = 6 (3) |
//! | 1 | response (0x80), error (0x40), more (0x20), opcode (5 bits) |
//! | 2–3 | sequence: a response echoes the request's |
//! | 4–5 | status word (system, peer or error code, by opcode and direction) |
//! | 6–7 | association id (0 = the system) |
//! | 8–9 | offset of this fragment's data in the whole response |
//! | 10–11 | count: data bytes in this fragment |
//! | 12… | data, padded with zeros to a multiple of 4 (the padding is not counted); an optional MAC follows on authenticated requests |
//!
//! A response longer than [`CONTROL_MAX_DATA`] bytes travels in fragments, all but the
//! last with the more bit set; `ntpq` reassembles them by offset.
//!
//! The no-panic contract of the [`wire`](super) module holds here too:
//! [`ControlPacket::new_checked`] is the gate for untrusted bytes, getters on an
//! unchecked short buffer read zeros, setters on one write nothing.

use core::fmt;
use core::ops::Range;

/// Length of the control header, bytes.
pub const CONTROL_HEADER_LEN: usize = 12;

/// Most data bytes in one fragment: ntpd's `CTL_MAX_DATA_LEN`, also what ntpsec's
/// ntpq assumes and what the C `ntpstat` copies out of the first fragment.
pub const CONTROL_MAX_DATA: usize = 468;

/// Largest control datagram slew sends: header plus a full fragment (468 is already a
/// multiple of 4, so no padding is needed).
pub const CONTROL_MAX_PACKET: usize = CONTROL_HEADER_LEN + CONTROL_MAX_DATA;

/// The mode number of control messages.
pub const MODE_CONTROL: u8 = 6;

/// Bit in byte 1: this is a response.
pub const FLAG_RESPONSE: u8 = 0x80;
/// Bit in byte 1: the response is an error; the code is in the status word's high byte.
pub const FLAG_ERROR: u8 = 0x40;
/// Bit in byte 1: more fragments follow.
pub const FLAG_MORE: u8 = 0x20;
/// The opcode bits of byte 1.
pub const OPCODE_MASK: u8 = 0x1f;

mod field {
    use core::ops::Range;

    pub const LI_VN_MODE: usize = 0;
    pub const R_E_M_OP: usize = 1;
    pub const SEQUENCE: Range<usize> = 2..4;
    pub const STATUS: Range<usize> = 4..6;
    pub const ASSOCIATION: Range<usize> = 6..8;
    pub const OFFSET: Range<usize> = 8..10;
    pub const COUNT: Range<usize> = 10..12;
}

/// Control opcodes (ntpd's `CTL_OP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// 1: association list (association 0) or one association's variables.
    ReadStat,
    /// 2: read system (association 0) or peer variables.
    ReadVar,
    /// 3: write variables (needs authentication).
    WriteVar,
    /// 4: read a reference clock's variables.
    ReadClock,
    /// 5: write a reference clock's variables.
    WriteClock,
    /// 6: set a trap.
    SetTrap,
    /// 7: an asynchronous message (trap), sent by the server.
    AsyncMsg,
    /// 8: runtime configuration (needs authentication).
    Configure,
    /// 9: save the configuration (needs authentication).
    SaveConfig,
    /// 10: the MRU list of clients (`ntpq mrulist`).
    ReadMru,
    /// 11: ordered lists (`ntpq ifstats`, `reslist`).
    ReadOrdlistA,
    /// 12: a nonce for READ_MRU.
    ReqNonce,
    /// 31: remove a trap.
    UnsetTrap,
    /// Any other value of the five opcode bits.
    Unknown(u8),
}

impl Opcode {
    /// From the low five bits of `bits`.
    pub const fn from_bits(bits: u8) -> Opcode {
        match bits & OPCODE_MASK {
            1 => Opcode::ReadStat,
            2 => Opcode::ReadVar,
            3 => Opcode::WriteVar,
            4 => Opcode::ReadClock,
            5 => Opcode::WriteClock,
            6 => Opcode::SetTrap,
            7 => Opcode::AsyncMsg,
            8 => Opcode::Configure,
            9 => Opcode::SaveConfig,
            10 => Opcode::ReadMru,
            11 => Opcode::ReadOrdlistA,
            12 => Opcode::ReqNonce,
            31 => Opcode::UnsetTrap,
            other => Opcode::Unknown(other),
        }
    }

    /// The five bits for the wire (an `Unknown` keeps its own, masked).
    pub const fn to_bits(self) -> u8 {
        match self {
            Opcode::ReadStat => 1,
            Opcode::ReadVar => 2,
            Opcode::WriteVar => 3,
            Opcode::ReadClock => 4,
            Opcode::WriteClock => 5,
            Opcode::SetTrap => 6,
            Opcode::AsyncMsg => 7,
            Opcode::Configure => 8,
            Opcode::SaveConfig => 9,
            Opcode::ReadMru => 10,
            Opcode::ReadOrdlistA => 11,
            Opcode::ReqNonce => 12,
            Opcode::UnsetTrap => 31,
            Opcode::Unknown(bits) => bits & OPCODE_MASK,
        }
    }
}

/// Error codes a server puts in the high byte of an error response's status word
/// (ntpd's `CERR_*`; ntpq prints their names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 0: unspecified.
    Unspecified,
    /// 1: permission denied (also ntpd's answer when a resource is missing).
    Permission,
    /// 2: the request is malformed.
    BadFormat,
    /// 3: unknown opcode.
    BadOpcode,
    /// 4: no such association.
    BadAssociation,
    /// 5: unknown variable name.
    UnknownVariable,
    /// 6: bad value.
    BadValue,
    /// 7: restricted by access control.
    Restricted,
}

impl ErrorCode {
    /// The code on the wire.
    pub const fn to_bits(self) -> u8 {
        match self {
            ErrorCode::Unspecified => 0,
            ErrorCode::Permission => 1,
            ErrorCode::BadFormat => 2,
            ErrorCode::BadOpcode => 3,
            ErrorCode::BadAssociation => 4,
            ErrorCode::UnknownVariable => 5,
            ErrorCode::BadValue => 6,
            ErrorCode::Restricted => 7,
        }
    }

    /// From the code on the wire; unknown codes read as `Unspecified`.
    pub const fn from_bits(bits: u8) -> ErrorCode {
        match bits {
            1 => ErrorCode::Permission,
            2 => ErrorCode::BadFormat,
            3 => ErrorCode::BadOpcode,
            4 => ErrorCode::BadAssociation,
            5 => ErrorCode::UnknownVariable,
            6 => ErrorCode::BadValue,
            7 => ErrorCode::Restricted,
            _ => ErrorCode::Unspecified,
        }
    }

    /// The name ntpq prints for it.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::Unspecified => "UNSPEC",
            ErrorCode::Permission => "PERMISSION",
            ErrorCode::BadFormat => "BADFMT",
            ErrorCode::BadOpcode => "BADOP",
            ErrorCode::BadAssociation => "BADASSOC",
            ErrorCode::UnknownVariable => "UNKNOWNVAR",
            ErrorCode::BadValue => "BADVALUE",
            ErrorCode::Restricted => "RESTRICT",
        }
    }
}

/// Why a buffer is not an acceptable control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlError {
    /// Shorter than the 12-byte header, or shorter than header + count.
    Truncated,
    /// The mode is not 6; the value is the mode found.
    NotControl(u8),
    /// The version is 0 or above 4.
    BadVersion(u8),
    /// The count exceeds [`CONTROL_MAX_DATA`].
    BadCount(u16),
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::Truncated => f.write_str("control message truncated"),
            ControlError::NotControl(m) => write!(f, "mode {m} is not a control message"),
            ControlError::BadVersion(v) => write!(f, "unsupported control message version {v}"),
            ControlError::BadCount(c) => write!(f, "control message claims {c} data bytes"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ControlError {}

fn read_u16(buf: &[u8], range: Range<usize>) -> u16 {
    buf.get(range)
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .map_or(0, u16::from_be_bytes)
}

fn write_u16(buf: &mut [u8], range: Range<usize>, value: u16) {
    if let Some(dst) = buf
        .get_mut(range)
        .and_then(|s| <&mut [u8; 2]>::try_from(s).ok())
    {
        *dst = value.to_be_bytes();
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

/// A read/write view of a control message in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ControlPacket<T> {
    /// Wraps a buffer without looking at it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer after [`ControlPacket::check`]: the gate for untrusted bytes.
    pub fn new_checked(buffer: T) -> Result<Self, ControlError> {
        let p = Self::new_unchecked(buffer);
        p.check()?;
        Ok(p)
    }

    /// Accepts a buffer holding a full header, mode 6, version 1 to 4 and at least
    /// `count` data bytes, count at most [`CONTROL_MAX_DATA`]. Bytes after the data
    /// (padding, a MAC) are allowed.
    pub fn check(&self) -> Result<(), ControlError> {
        let len = self.buffer.as_ref().len();
        if len < CONTROL_HEADER_LEN {
            return Err(ControlError::Truncated);
        }
        if self.mode() != MODE_CONTROL {
            return Err(ControlError::NotControl(self.mode()));
        }
        if !(1..=4).contains(&self.version()) {
            return Err(ControlError::BadVersion(self.version()));
        }
        let count = self.count();
        if usize::from(count) > CONTROL_MAX_DATA {
            return Err(ControlError::BadCount(count));
        }
        if len.saturating_sub(CONTROL_HEADER_LEN) < usize::from(count) {
            return Err(ControlError::Truncated);
        }
        Ok(())
    }

    /// Consumes the view, returning the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Leap indicator bits (responses carry the server's).
    pub fn leap(&self) -> u8 {
        read_byte(self.buffer.as_ref(), field::LI_VN_MODE) >> 6
    }

    /// Version number.
    pub fn version(&self) -> u8 {
        (read_byte(self.buffer.as_ref(), field::LI_VN_MODE) >> 3) & 0b111
    }

    /// Mode (6 for a control message).
    pub fn mode(&self) -> u8 {
        read_byte(self.buffer.as_ref(), field::LI_VN_MODE) & 0b111
    }

    /// The response bit.
    pub fn is_response(&self) -> bool {
        read_byte(self.buffer.as_ref(), field::R_E_M_OP) & FLAG_RESPONSE != 0
    }

    /// The error bit.
    pub fn is_error(&self) -> bool {
        read_byte(self.buffer.as_ref(), field::R_E_M_OP) & FLAG_ERROR != 0
    }

    /// The more bit: further fragments follow.
    pub fn more(&self) -> bool {
        read_byte(self.buffer.as_ref(), field::R_E_M_OP) & FLAG_MORE != 0
    }

    /// The opcode.
    pub fn opcode(&self) -> Opcode {
        Opcode::from_bits(read_byte(self.buffer.as_ref(), field::R_E_M_OP))
    }

    /// Sequence number.
    pub fn sequence(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::SEQUENCE)
    }

    /// Status word.
    pub fn status(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::STATUS)
    }

    /// Association id (0: the system).
    pub fn association_id(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::ASSOCIATION)
    }

    /// Offset of this fragment's data in the whole message.
    pub fn offset(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::OFFSET)
    }

    /// Data bytes in this fragment.
    pub fn count(&self) -> u16 {
        read_u16(self.buffer.as_ref(), field::COUNT)
    }

    /// The `count` data bytes (fewer if the buffer is short: check first).
    pub fn data(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        let rest = buf.get(CONTROL_HEADER_LEN..).unwrap_or(&[]);
        let n = usize::from(self.count()).min(rest.len());
        rest.get(..n).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ControlPacket<T> {
    /// Sets leap, version and mode 6.
    pub fn set_leap_version(&mut self, leap: u8, version: u8) {
        let b = ((leap & 0b11) << 6) | ((version & 0b111) << 3) | MODE_CONTROL;
        write_byte(self.buffer.as_mut(), field::LI_VN_MODE, b);
    }

    /// Sets the response/error/more bits and the opcode at once.
    pub fn set_flags_opcode(&mut self, response: bool, error: bool, more: bool, op: Opcode) {
        let mut b = op.to_bits();
        if response {
            b |= FLAG_RESPONSE;
        }
        if error {
            b |= FLAG_ERROR;
        }
        if more {
            b |= FLAG_MORE;
        }
        write_byte(self.buffer.as_mut(), field::R_E_M_OP, b);
    }

    /// Sets the sequence number.
    pub fn set_sequence(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::SEQUENCE, value);
    }

    /// Sets the status word.
    pub fn set_status(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::STATUS, value);
    }

    /// Sets the association id.
    pub fn set_association_id(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::ASSOCIATION, value);
    }

    /// Sets the data offset.
    pub fn set_offset(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::OFFSET, value);
    }

    /// Sets the data count.
    pub fn set_count(&mut self, value: u16) {
        write_u16(self.buffer.as_mut(), field::COUNT, value);
    }

    /// The bytes after the header, to write data into.
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(CONTROL_HEADER_LEN..)
            .unwrap_or(&mut [])
    }
}

/// The high-level form of one control message (one fragment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlRepr<'a> {
    /// Leap indicator (ntpd sends its own in responses; requests carry 0).
    pub leap: u8,
    /// Version (ntpq sends 2; a response echoes the request's).
    pub version: u8,
    /// Response bit.
    pub response: bool,
    /// Error bit.
    pub error: bool,
    /// More bit.
    pub more: bool,
    /// Opcode.
    pub opcode: Opcode,
    /// Sequence number.
    pub sequence: u16,
    /// Status word.
    pub status: u16,
    /// Association id.
    pub association_id: u16,
    /// Offset of `data` in the whole message.
    pub offset: u16,
    /// This fragment's data (at most [`CONTROL_MAX_DATA`] bytes).
    pub data: &'a [u8],
}

impl<'a> ControlRepr<'a> {
    /// Reads a message, checking it first.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &'a ControlPacket<&'a T>,
    ) -> Result<Self, ControlError> {
        packet.check()?;
        Ok(Self {
            leap: packet.leap(),
            version: packet.version(),
            response: packet.is_response(),
            error: packet.is_error(),
            more: packet.more(),
            opcode: packet.opcode(),
            sequence: packet.sequence(),
            status: packet.status(),
            association_id: packet.association_id(),
            offset: packet.offset(),
            data: packet.data(),
        })
    }

    /// Bytes [`ControlRepr::emit`] writes: header, data, zero padding to 4 bytes.
    pub fn buffer_len(&self) -> usize {
        let n = CONTROL_HEADER_LEN.saturating_add(self.data.len().min(CONTROL_MAX_DATA));
        n.saturating_add(n.wrapping_neg() & 3)
    }

    /// Writes the message; a buffer shorter than [`ControlRepr::buffer_len`] keeps only
    /// what fits. Data beyond [`CONTROL_MAX_DATA`] bytes is cut.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut ControlPacket<T>) {
        let data = self.data.get(..CONTROL_MAX_DATA).unwrap_or(self.data);
        packet.set_leap_version(self.leap, self.version);
        packet.set_flags_opcode(self.response, self.error, self.more, self.opcode);
        packet.set_sequence(self.sequence);
        packet.set_status(self.status);
        packet.set_association_id(self.association_id);
        packet.set_offset(self.offset);
        packet.set_count(u16::try_from(data.len()).unwrap_or(0));
        let end = self.buffer_len().saturating_sub(CONTROL_HEADER_LEN);
        let out = packet.data_mut();
        for (i, slot) in out.iter_mut().take(end).enumerate() {
            *slot = data.get(i).copied().unwrap_or(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ntpq's `rv 0 stratum,refid`, captured on loopback.
    const RV_NAMES: &[u8] =
        b"\xd6\x02\x00\x02\x00\x00\x00\x00\x00\x00\x00\x0dstratum,refid\x00\x00\x00";

    #[test]
    fn parses_ntpq_request() {
        let p = ControlPacket::new_checked(RV_NAMES).unwrap();
        let r = ControlRepr::parse(&p).unwrap();
        assert_eq!(r.leap, 3);
        assert_eq!(r.version, 2);
        assert!(!r.response && !r.error && !r.more);
        assert_eq!(r.opcode, Opcode::ReadVar);
        assert_eq!(r.sequence, 2);
        assert_eq!(r.association_id, 0);
        assert_eq!(r.data, b"stratum,refid");
        assert_eq!(r.buffer_len(), RV_NAMES.len(), "12 + 13 padded to 28");
        let mut out = [0xaa; 28];
        r.emit(&mut ControlPacket::new_unchecked(&mut out[..]));
        assert_eq!(&out[..], RV_NAMES);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(
            ControlPacket::new_checked(&RV_NAMES[..11]).unwrap_err(),
            ControlError::Truncated
        );
        assert_eq!(
            ControlPacket::new_checked(&RV_NAMES[..24]).unwrap_err(),
            ControlError::Truncated,
            "count runs past the end"
        );
        let mut m = [0u8; 12];
        m[0] = 0x13;
        assert_eq!(
            ControlPacket::new_checked(&m[..]).unwrap_err(),
            ControlError::NotControl(3)
        );
        m[0] = 0x06;
        assert_eq!(
            ControlPacket::new_checked(&m[..]).unwrap_err(),
            ControlError::BadVersion(0)
        );
        let mut big = [0u8; 600];
        big[0] = 0x16;
        big[10..12].copy_from_slice(&469u16.to_be_bytes());
        assert_eq!(
            ControlPacket::new_checked(&big[..]).unwrap_err(),
            ControlError::BadCount(469)
        );
    }

    #[test]
    fn flags_and_opcodes_round_trip() {
        for bits in 0..=31u8 {
            assert_eq!(Opcode::from_bits(bits).to_bits(), bits);
        }
        for code in 0..=7u8 {
            assert_eq!(ErrorCode::from_bits(code).to_bits(), code);
        }
        let mut buf = [0u8; 12];
        let mut p = ControlPacket::new_unchecked(&mut buf[..]);
        p.set_flags_opcode(true, true, true, Opcode::UnsetTrap);
        assert!(p.is_response() && p.is_error() && p.more());
        assert_eq!(p.opcode(), Opcode::UnsetTrap);
    }

    #[test]
    fn short_buffers_never_panic() {
        let p = ControlPacket::new_unchecked(&[0x16u8][..]);
        assert_eq!((p.sequence(), p.count(), p.data().len()), (0, 0, 0));
        let mut tiny = [0u8; 3];
        let repr = ControlRepr {
            leap: 0,
            version: 2,
            response: true,
            error: false,
            more: false,
            opcode: Opcode::ReadVar,
            sequence: 1,
            status: 0,
            association_id: 0,
            offset: 0,
            data: b"abc",
        };
        repr.emit(&mut ControlPacket::new_unchecked(&mut tiny[..]));
        assert_eq!(tiny[0], 0x16);
    }
}

//! Reference ids (RFC 5905 §7.3) and kiss codes (§7.4).

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use md5::{Digest, Md5};

/// The 4-byte reference id.
///
/// Its meaning depends on the stratum: at stratum 0 a kiss code, at stratum 1 the
/// reference clock's ASCII name (`GPS`, `PPS`, `LOCL`…), at strata 2–15 the IPv4
/// address of the upstream server or the first four octets of the MD5 hash of its
/// IPv6 address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RefId(pub [u8; 4]);

impl RefId {
    /// `LOCL`: the undisciplined local clock (ntpd's and chrony's local fallback).
    pub const LOCL: RefId = RefId::from_ascii(b"LOCL");
    /// `INIT`: the association has not synchronised yet (ntpd shows it at stratum 16).
    pub const INIT: RefId = RefId::from_ascii(b"INIT");
    /// `STEP`: the clock was stepped (kiss code and ntpd's refid after a step).
    pub const STEP: RefId = RefId::from_ascii(b"STEP");
    /// `DENY` kiss code.
    pub const DENY: RefId = RefId::from_ascii(b"DENY");
    /// `RSTR` kiss code.
    pub const RSTR: RefId = RefId::from_ascii(b"RSTR");
    /// `RATE` kiss code.
    pub const RATE: RefId = RefId::from_ascii(b"RATE");
    /// `ACST` kiss code.
    pub const ACST: RefId = RefId::from_ascii(b"ACST");
    /// `AUTH` kiss code.
    pub const AUTH: RefId = RefId::from_ascii(b"AUTH");
    /// `AUTO` kiss code.
    pub const AUTO: RefId = RefId::from_ascii(b"AUTO");
    /// `BCST` kiss code.
    pub const BCST: RefId = RefId::from_ascii(b"BCST");
    /// `CRYP` kiss code.
    pub const CRYP: RefId = RefId::from_ascii(b"CRYP");
    /// `DROP` kiss code.
    pub const DROP: RefId = RefId::from_ascii(b"DROP");
    /// `MCST` kiss code.
    pub const MCST: RefId = RefId::from_ascii(b"MCST");
    /// `NKEY` kiss code.
    pub const NKEY: RefId = RefId::from_ascii(b"NKEY");
    /// `RMOT` kiss code.
    pub const RMOT: RefId = RefId::from_ascii(b"RMOT");
    /// `GPS\0`: a GPS reference clock.
    pub const GPS: RefId = RefId::from_ascii(b"GPS\0");
    /// `PPS\0`: a pulse-per-second reference clock.
    pub const PPS: RefId = RefId::from_ascii(b"PPS\0");

    /// From the four bytes on the wire.
    pub const fn from_bytes(bytes: [u8; 4]) -> Self {
        RefId(bytes)
    }

    /// The four bytes for the wire.
    pub const fn to_bytes(self) -> [u8; 4] {
        self.0
    }

    /// The refid of an IPv4 upstream server: its address octets.
    pub fn from_ipv4(addr: Ipv4Addr) -> Self {
        RefId(addr.octets())
    }

    /// The refid of an IPv6 upstream server: the first four octets of the MD5 hash of
    /// its 16 address octets (RFC 5905 §7.3, as ntpd and chrony compute it).
    pub fn from_ipv6(addr: Ipv6Addr) -> Self {
        let hash = Md5::digest(addr.octets());
        match hash.as_slice().first_chunk::<4>() {
            Some(first) => RefId(*first),
            // MD5 digests are 16 bytes; this arm only keeps the code panic-free.
            None => RefId::default(),
        }
    }

    /// [`RefId::from_ipv4`] or [`RefId::from_ipv6`].
    pub fn from_ip(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => Self::from_ipv4(a),
            IpAddr::V6(a) => Self::from_ipv6(a),
        }
    }

    /// From four ASCII characters, NUL-padded when shorter (`b"GPS\0"`).
    pub const fn from_ascii(code: &[u8; 4]) -> Self {
        RefId(*code)
    }

    /// The kiss code this refid carries in a kiss-o'-death packet (stratum 0).
    pub fn kiss_code(self) -> KissCode {
        KissCode::from_bytes(self.0)
    }

    /// Displays the refid as `ntpq` would for a peer at this stratum: a dotted quad at
    /// strata 2–15 (an IPv4 address or an IPv6 hash), `.LOCL.`-style ASCII otherwise
    /// (stratum 0 kiss codes, stratum 1 reference clocks, and stratum 16 where ntpd
    /// puts `INIT`/`STEP`). Trailing NULs are dropped; bytes that are not printable
    /// ASCII show as `?`.
    pub fn display_for_stratum(self, stratum: u8) -> RefIdDisplay {
        RefIdDisplay {
            refid: self,
            as_address: (2..=15).contains(&stratum),
        }
    }
}

impl fmt::Debug for RefId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "RefId({a}.{b}.{c}.{d} ")?;
        fmt_ascii(self.0, f)?;
        f.write_str(")")
    }
}

fn fmt_ascii(bytes: [u8; 4], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use fmt::Write;
    let len = bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i.saturating_add(1));
    f.write_char('.')?;
    for &b in bytes.iter().take(len) {
        let c = if b.is_ascii_graphic() || b == b' ' {
            char::from(b)
        } else {
            '?'
        };
        f.write_char(c)?;
    }
    f.write_char('.')
}

/// Displays a [`RefId`] for a given stratum; see [`RefId::display_for_stratum`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefIdDisplay {
    refid: RefId,
    as_address: bool,
}

impl fmt::Display for RefIdDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.refid.0;
        if self.as_address {
            write!(f, "{a}.{b}.{c}.{d}")
        } else {
            fmt_ascii(self.refid.0, f)
        }
    }
}

/// A kiss-o'-death code (RFC 5905 §7.4, Figure 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KissCode {
    /// Access denied by remote server: stop sending (MUST demobilise).
    Deny,
    /// Access denied due to local policy: stop sending (MUST demobilise).
    Rstr,
    /// Rate exceeded: reduce the poll rate (again on each further RATE).
    Rate,
    /// The association belongs to an anycast server.
    Acst,
    /// Server authentication failed.
    Auth,
    /// Autokey sequence failed.
    Auto,
    /// The association belongs to a broadcast server.
    Bcst,
    /// Cryptographic authentication or identification failed.
    Cryp,
    /// Lost peer in symmetric mode.
    Drop,
    /// The association has not yet synchronised for the first time.
    Init,
    /// The association belongs to a dynamically discovered server.
    Mcst,
    /// No key found (never installed or not trusted).
    Nkey,
    /// Alteration of association from a remote host running ntpdc.
    Rmot,
    /// A step change in system time has occurred, but the association has not yet
    /// resynchronised.
    Step,
    /// A code starting with `X`: experimental, to be ignored by clients that do not
    /// know it.
    Experimental([u8; 4]),
    /// Any other code.
    Unknown([u8; 4]),
}

impl KissCode {
    /// Interprets the four refid bytes of a kiss-o'-death packet.
    pub const fn from_bytes(bytes: [u8; 4]) -> Self {
        match &bytes {
            b"DENY" => KissCode::Deny,
            b"RSTR" => KissCode::Rstr,
            b"RATE" => KissCode::Rate,
            b"ACST" => KissCode::Acst,
            b"AUTH" => KissCode::Auth,
            b"AUTO" => KissCode::Auto,
            b"BCST" => KissCode::Bcst,
            b"CRYP" => KissCode::Cryp,
            b"DROP" => KissCode::Drop,
            b"INIT" => KissCode::Init,
            b"MCST" => KissCode::Mcst,
            b"NKEY" => KissCode::Nkey,
            b"RMOT" => KissCode::Rmot,
            b"STEP" => KissCode::Step,
            [b'X', ..] => KissCode::Experimental(bytes),
            _ => KissCode::Unknown(bytes),
        }
    }

    /// The four bytes for the refid field.
    pub const fn to_bytes(self) -> [u8; 4] {
        match self {
            KissCode::Deny => *b"DENY",
            KissCode::Rstr => *b"RSTR",
            KissCode::Rate => *b"RATE",
            KissCode::Acst => *b"ACST",
            KissCode::Auth => *b"AUTH",
            KissCode::Auto => *b"AUTO",
            KissCode::Bcst => *b"BCST",
            KissCode::Cryp => *b"CRYP",
            KissCode::Drop => *b"DROP",
            KissCode::Init => *b"INIT",
            KissCode::Mcst => *b"MCST",
            KissCode::Nkey => *b"NKEY",
            KissCode::Rmot => *b"RMOT",
            KissCode::Step => *b"STEP",
            KissCode::Experimental(b) | KissCode::Unknown(b) => b,
        }
    }

    /// The refid that carries this code.
    pub const fn to_ref_id(self) -> RefId {
        RefId(self.to_bytes())
    }

    /// DENY or RSTR: the client must demobilise the association and stop sending.
    pub const fn is_fatal(self) -> bool {
        matches!(self, KissCode::Deny | KissCode::Rstr)
    }
}

impl fmt::Display for KissCode {
    /// The four ASCII characters (`RATE`), each byte outside printable ASCII (and
    /// the backslash) as `\xNN`: a hostile code must not put control bytes (an ESC
    /// sequence) on a terminal or in a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.to_bytes() {
            if (b.is_ascii_graphic() && b != b'\\') || b == b' ' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl From<KissCode> for RefId {
    fn from(code: KissCode) -> RefId {
        code.to_ref_id()
    }
}

#[cfg(test)]
mod tests {
    use std::format;
    use std::string::ToString;

    use super::*;

    #[test]
    fn kiss_codes_print_as_ascii_or_escaped_hex() {
        assert_eq!(KissCode::Rate.to_string(), "RATE");
        assert_eq!(KissCode::from_bytes(*b"XFOO").to_string(), "XFOO");
        // ESC [ 2 J clears a terminal: it must arrive as text, not as the sequence.
        let esc = KissCode::from_bytes([27, b'[', b'2', b'J']);
        assert_eq!(esc.to_string(), "\\x1b[2J");
        assert_eq!(
            KissCode::from_bytes([0, 0xff, b'\\', b'A']).to_string(),
            "\\x00\\xff\\x5cA"
        );
    }

    #[test]
    fn bytes_round_trip() {
        let r = RefId::from_bytes([1, 2, 3, 4]);
        assert_eq!(r.to_bytes(), [1, 2, 3, 4]);
        assert_eq!(r.0, [1, 2, 3, 4]);
        assert_eq!(RefId::default().to_bytes(), [0; 4]);
    }

    #[test]
    fn ipv4_refid_is_the_address() {
        let a = Ipv4Addr::new(192, 0, 2, 1);
        assert_eq!(RefId::from_ipv4(a).to_bytes(), [192, 0, 2, 1]);
        assert_eq!(RefId::from_ip(IpAddr::V4(a)), RefId::from_ipv4(a));
    }

    /// Expected values computed independently:
    /// `python3 -c "import hashlib,ipaddress; print(hashlib.md5(ipaddress.IPv6Address(A).packed).hexdigest()[:8])"`
    #[test]
    fn ipv6_refid_is_md5_prefix() {
        for (addr, expected) in [
            ("::1", [0xcf, 0x40, 0x4d, 0xc8]),
            ("2001:db8::1", [0x39, 0xab, 0x9b, 0x37]),
            ("fe80::1", [0x89, 0xe5, 0x30, 0x1f]),
            ("2001:db8:85a3::8a2e:370:7334", [0xd6, 0x1c, 0xe9, 0xc2]),
        ] {
            let a: Ipv6Addr = addr.parse().unwrap();
            assert_eq!(RefId::from_ipv6(a).to_bytes(), expected, "{addr}");
            assert_eq!(RefId::from_ip(IpAddr::V6(a)), RefId::from_ipv6(a));
        }
    }

    #[test]
    fn ascii_constants() {
        assert_eq!(RefId::LOCL.to_bytes(), *b"LOCL");
        assert_eq!(RefId::INIT.to_bytes(), *b"INIT");
        assert_eq!(RefId::STEP.to_bytes(), *b"STEP");
        assert_eq!(RefId::GPS.to_bytes(), [b'G', b'P', b'S', 0]);
        assert_eq!(RefId::PPS.to_bytes(), [b'P', b'P', b'S', 0]);
        assert_eq!(RefId::from_ascii(b"GPS\0"), RefId::GPS);
    }

    #[test]
    fn display_depends_on_stratum() {
        assert_eq!(RefId::RATE.display_for_stratum(0).to_string(), ".RATE.");
        assert_eq!(RefId::GPS.display_for_stratum(1).to_string(), ".GPS.");
        assert_eq!(RefId::LOCL.display_for_stratum(1).to_string(), ".LOCL.");
        let a = RefId::from_bytes([192, 0, 2, 1]);
        assert_eq!(a.display_for_stratum(2).to_string(), "192.0.2.1");
        assert_eq!(a.display_for_stratum(15).to_string(), "192.0.2.1");
        assert_eq!(RefId::INIT.display_for_stratum(16).to_string(), ".INIT.");
        assert_eq!(RefId::default().display_for_stratum(0).to_string(), "..");
        assert_eq!(
            RefId::default().display_for_stratum(3).to_string(),
            "0.0.0.0"
        );
        // Not printable: '?'. NULs inside (not trailing) are not printable either.
        let odd = RefId::from_bytes([b'A', 0, 0x7f, b'B']);
        assert_eq!(odd.display_for_stratum(1).to_string(), ".A??B.");
        assert_eq!(
            RefId::from_ascii(b"X Y\0")
                .display_for_stratum(0)
                .to_string(),
            ".X Y."
        );
    }

    #[test]
    fn debug_shows_both_readings() {
        assert_eq!(format!("{:?}", RefId::LOCL), "RefId(76.79.67.76 .LOCL.)");
        assert_eq!(format!("{:?}", RefId::default()), "RefId(0.0.0.0 ..)");
    }

    #[test]
    fn every_kiss_code_round_trips() {
        let all = [
            (KissCode::Deny, RefId::DENY),
            (KissCode::Rstr, RefId::RSTR),
            (KissCode::Rate, RefId::RATE),
            (KissCode::Acst, RefId::ACST),
            (KissCode::Auth, RefId::AUTH),
            (KissCode::Auto, RefId::AUTO),
            (KissCode::Bcst, RefId::BCST),
            (KissCode::Cryp, RefId::CRYP),
            (KissCode::Drop, RefId::DROP),
            (KissCode::Init, RefId::INIT),
            (KissCode::Mcst, RefId::MCST),
            (KissCode::Nkey, RefId::NKEY),
            (KissCode::Rmot, RefId::RMOT),
            (KissCode::Step, RefId::STEP),
        ];
        for (code, refid) in all {
            assert_eq!(refid.kiss_code(), code);
            assert_eq!(code.to_ref_id(), refid);
            assert_eq!(RefId::from(code), refid);
            assert_eq!(KissCode::from_bytes(code.to_bytes()), code);
            assert_eq!(
                code.is_fatal(),
                matches!(code, KissCode::Deny | KissCode::Rstr)
            );
        }
        // The ASCII spelling is the code's name.
        assert_eq!(&KissCode::Rate.to_bytes(), b"RATE");
        assert_eq!(&KissCode::Nkey.to_bytes(), b"NKEY");
    }

    #[test]
    fn experimental_and_unknown_codes() {
        let x = RefId::from_ascii(b"XFOO").kiss_code();
        assert_eq!(x, KissCode::Experimental(*b"XFOO"));
        assert_eq!(x.to_bytes(), *b"XFOO");
        assert!(!x.is_fatal());
        let u = RefId::from_ascii(b"ABCD").kiss_code();
        assert_eq!(u, KissCode::Unknown(*b"ABCD"));
        assert_eq!(u.to_ref_id(), RefId::from_ascii(b"ABCD"));
        // Case matters; codes are upper case.
        assert_eq!(
            RefId::from_ascii(b"rate").kiss_code(),
            KissCode::Unknown(*b"rate")
        );
        assert_eq!(RefId::default().kiss_code(), KissCode::Unknown([0; 4]));
    }
}

//! The trailer after the header: RFC 7822 extension fields and the MAC.
//!
//! The walk is the one in the [module docs](super#trailer-rules): at each position the
//! remaining length tells a MAC (4, 20 or 24 bytes) from an extension field.

use core::fmt;

use super::Error;

/// Length of an extension field's type and length words, bytes.
pub const EXT_HEADER_LEN: usize = 4;
/// Smallest legal extension field, header included (RFC 7822 §3), bytes.
pub const EXT_MIN_LEN: usize = 16;
/// Length of the MAC's key id, bytes.
pub const MAC_KEY_ID_LEN: usize = 4;
/// A crypto-NAK: a key id of 0 and no digest, bytes.
pub const CRYPTO_NAK_LEN: usize = MAC_KEY_ID_LEN;
/// A MAC with a 16-byte digest (MD5, AES-128-CMAC), key id included, bytes.
pub const MD5_MAC_LEN: usize = 20;
/// A MAC with a 20-byte digest (SHA-1), key id included, bytes.
pub const SHA1_MAC_LEN: usize = 24;

/// One RFC 7822 extension field, borrowed from the packet.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ExtensionField<'a> {
    field_type: u16,
    raw: &'a [u8],
}

impl<'a> ExtensionField<'a> {
    /// The field type (16 bits).
    pub const fn field_type(&self) -> u16 {
        self.field_type
    }

    /// The whole field's length as on the wire: header, value and padding (≥ 16, a
    /// multiple of 4).
    pub const fn len(&self) -> usize {
        self.raw.len()
    }

    /// Always false: a field is at least [`EXT_MIN_LEN`] bytes. (For clippy's
    /// `len_without_is_empty`.)
    pub const fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The value after the 4-byte header, padding included (RFC 7822 leaves the
    /// meaning of the padding to the field type).
    pub fn value(&self) -> &'a [u8] {
        self.raw.get(EXT_HEADER_LEN..).unwrap_or(&[])
    }

    /// The whole field as on the wire.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }
}

impl fmt::Debug for ExtensionField<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtensionField")
            .field("field_type", &format_args!("{:#06x}", self.field_type))
            .field("len", &self.len())
            .finish()
    }
}

/// What kind of MAC a trailer holds, by its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacKind {
    /// A key id of 0 and no digest: "I could not authenticate you" (RFC 5905 §7.5).
    CryptoNak,
    /// A 16-byte digest: MD5 or AES-128-CMAC (the key's type in ntp.keys decides).
    Digest16,
    /// A 20-byte digest: SHA-1.
    Digest20,
}

/// The MAC trailer: a key id and a digest, or a crypto-NAK.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Mac<'a> {
    key_id: u32,
    digest: &'a [u8],
    raw: &'a [u8],
}

impl<'a> Mac<'a> {
    /// Reads a MAC of 4, 20 or 24 bytes; a 4-byte one must have key id 0.
    fn parse(raw: &'a [u8]) -> Result<Self, Error> {
        let (id, digest) = raw
            .split_first_chunk::<MAC_KEY_ID_LEN>()
            .ok_or(Error::BadLength)?;
        let key_id = u32::from_be_bytes(*id);
        match raw.len() {
            CRYPTO_NAK_LEN if key_id != 0 => Err(Error::BadLength),
            CRYPTO_NAK_LEN | MD5_MAC_LEN | SHA1_MAC_LEN => Ok(Mac {
                key_id,
                digest,
                raw,
            }),
            _ => Err(Error::BadLength),
        }
    }

    /// The key id (0 in a crypto-NAK).
    pub const fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The digest: 16 or 20 bytes, empty for a crypto-NAK.
    pub const fn digest(&self) -> &'a [u8] {
        self.digest
    }

    /// The whole trailer, key id included.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// Which kind of MAC this is.
    pub const fn kind(&self) -> MacKind {
        match self.digest.len() {
            0 => MacKind::CryptoNak,
            16 => MacKind::Digest16,
            _ => MacKind::Digest20,
        }
    }

    /// A crypto-NAK: key id 0, no digest.
    pub const fn is_crypto_nak(&self) -> bool {
        self.digest.is_empty()
    }
}

impl fmt::Debug for Mac<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mac")
            .field("key_id", &self.key_id)
            .field("kind", &self.kind())
            .finish()
    }
}

/// One step of the trailer walk.
enum Step<'a> {
    /// Nothing left.
    End,
    /// The trailer ends with this MAC.
    Mac(Mac<'a>),
    /// An extension field, and what follows it.
    Field(ExtensionField<'a>, &'a [u8]),
}

/// Classifies what starts at `rest`, the unwalked part of the trailer.
fn step(rest: &[u8], extensions_allowed: bool) -> Result<Step<'_>, Error> {
    match rest.len() {
        0 => Ok(Step::End),
        CRYPTO_NAK_LEN | MD5_MAC_LEN | SHA1_MAC_LEN => Mac::parse(rest).map(Step::Mac),
        _ if !extensions_allowed => Err(Error::BadLength),
        _ => {
            let Some((header, _)) = rest.split_first_chunk::<EXT_HEADER_LEN>() else {
                return Err(Error::BadLength);
            };
            let [t0, t1, l0, l1] = *header;
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            if len < EXT_MIN_LEN || len % 4 != 0 {
                return Err(Error::BadExtension);
            }
            let Some((raw, after)) = rest.split_at_checked(len) else {
                return Err(Error::Truncated);
            };
            let field = ExtensionField {
                field_type: u16::from_be_bytes([t0, t1]),
                raw,
            };
            Ok(Step::Field(field, after))
        }
    }
}

/// Walks a whole trailer; returns the MAC it ends with, if any.
pub(super) fn walk(trailer: &[u8], extensions_allowed: bool) -> Result<Option<Mac<'_>>, Error> {
    let mut rest = trailer;
    loop {
        match step(rest, extensions_allowed)? {
            Step::End => return Ok(None),
            Step::Mac(mac) => return Ok(Some(mac)),
            Step::Field(_, after) => rest = after,
        }
    }
}

/// Iterator over a packet's extension fields; see [`Packet::extensions`].
///
/// Ends at the MAC, at the end of the packet, or at the first malformed field (which
/// [`Packet::new_checked`] would have rejected).
///
/// [`Packet::extensions`]: super::Packet::extensions
/// [`Packet::new_checked`]: super::Packet::new_checked
#[derive(Debug, Clone)]
pub struct ExtensionIter<'a> {
    rest: &'a [u8],
}

impl<'a> ExtensionIter<'a> {
    /// Walks `trailer`; yields nothing unless `extensions_allowed` (version 4).
    pub(super) fn new(trailer: &'a [u8], extensions_allowed: bool) -> Self {
        ExtensionIter {
            rest: if extensions_allowed { trailer } else { &[] },
        }
    }
}

impl<'a> Iterator for ExtensionIter<'a> {
    type Item = ExtensionField<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        match step(self.rest, true) {
            Ok(Step::Field(field, after)) => {
                self.rest = after;
                Some(field)
            }
            _ => {
                self.rest = &[];
                None
            }
        }
    }
}

impl core::iter::FusedIterator for ExtensionIter<'_> {}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::super::{Error, Packet};
    use super::*;

    /// A version 4 (or `version`) client header followed by `trailer`.
    fn packet(version: u8, trailer: &[u8]) -> Vec<u8> {
        let mut v = std::vec![0u8; 48];
        v[0] = (version << 3) | 3;
        v.extend_from_slice(trailer);
        v
    }

    /// An extension field of type `t`, total length `len`, value bytes = `fill`.
    fn ext(t: u16, len: u16, fill: u8) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&t.to_be_bytes());
        v.extend_from_slice(&len.to_be_bytes());
        v.resize(usize::from(len).max(4), fill);
        v
    }

    fn mac(key_id: u32, digest_len: usize) -> Vec<u8> {
        let mut v = key_id.to_be_bytes().to_vec();
        v.resize(4 + digest_len, 0xd1);
        v
    }

    fn check(bytes: &[u8]) -> Result<(), Error> {
        Packet::new_checked(bytes).map(|_| ())
    }

    #[test]
    fn no_trailer() {
        let b = packet(4, &[]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.extensions().next(), None);
        assert_eq!(p.mac(), None);
    }

    #[test]
    fn one_minimal_extension_field() {
        let b = packet(4, &ext(0x0104, 16, 0x5a));
        let p = Packet::new_checked(&b[..]).unwrap();
        let fields: Vec<_> = p.extensions().collect();
        assert_eq!(fields.len(), 1);
        let f = fields[0];
        assert_eq!(f.field_type(), 0x0104);
        assert_eq!(f.len(), 16);
        assert!(!f.is_empty());
        assert_eq!(f.value(), &[0x5a; 12]);
        assert_eq!(f.as_bytes(), &b[48..]);
        assert_eq!(p.mac(), None);
        assert_eq!(
            std::format!("{f:?}"),
            "ExtensionField { field_type: 0x0104, len: 16 }"
        );
    }

    #[test]
    fn several_fields_then_each_mac_size() {
        for (digest_len, kind) in [(16, MacKind::Digest16), (20, MacKind::Digest20)] {
            let mut t = ext(0x0204, 28, 1);
            t.extend(ext(0x0304, 16, 2));
            t.extend(mac(42, digest_len));
            let b = packet(4, &t);
            let p = Packet::new_checked(&b[..]).unwrap();
            let types: Vec<_> = p.extensions().map(|f| (f.field_type(), f.len())).collect();
            assert_eq!(types, [(0x0204, 28), (0x0304, 16)]);
            let m = p.mac().unwrap();
            assert_eq!(m.key_id(), 42);
            assert_eq!(m.digest().len(), digest_len);
            assert_eq!(m.kind(), kind);
            assert!(!m.is_crypto_nak());
            assert_eq!(m.as_bytes().len(), 4 + digest_len);
            assert_eq!(m.as_bytes(), &b[b.len() - 4 - digest_len..]);
        }
    }

    #[test]
    fn mac_alone_on_every_version() {
        for version in 1..=4 {
            for (digest_len, len) in [(16, MD5_MAC_LEN), (20, SHA1_MAC_LEN)] {
                let b = packet(version, &mac(7, digest_len));
                assert_eq!(b.len(), 48 + len);
                let p = Packet::new_checked(&b[..]).unwrap();
                assert_eq!(p.extensions().count(), 0);
                let m = p.mac().unwrap();
                assert_eq!(
                    (m.key_id(), m.digest(), m.kind() != MacKind::CryptoNak),
                    (7, &b[52..], true)
                );
            }
        }
    }

    #[test]
    fn crypto_nak() {
        for version in 1..=4 {
            let b = packet(version, &[0, 0, 0, 0]);
            let p = Packet::new_checked(&b[..]).unwrap();
            let m = p.mac().unwrap();
            assert!(m.is_crypto_nak());
            assert_eq!(m.kind(), MacKind::CryptoNak);
            assert_eq!(m.key_id(), 0);
            assert!(m.digest().is_empty());
            assert_eq!(std::format!("{m:?}"), "Mac { key_id: 0, kind: CryptoNak }");
        }
        // After an extension field too. (A 16-byte field + NAK would be 20 bytes: a
        // MAC by the remaining-length rule.)
        let mut t = ext(0x0104, 28, 0);
        t.extend([0, 0, 0, 0]);
        let b = packet(4, &t);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.extensions().count(), 1);
        assert!(p.mac().unwrap().is_crypto_nak());
    }

    #[test]
    fn four_byte_trailer_with_a_key_id_is_rejected() {
        assert_eq!(check(&packet(4, &[0, 0, 0, 1])), Err(Error::BadLength));
        assert_eq!(check(&packet(3, &[0x80, 0, 0, 0])), Err(Error::BadLength));
    }

    #[test]
    fn old_versions_have_no_extension_fields() {
        for version in 1..=3 {
            let b = packet(version, &ext(0x0104, 16, 0));
            assert_eq!(check(&b), Err(Error::BadLength), "v{version}");
            // The iterator yields nothing even on an unchecked packet.
            assert_eq!(Packet::new_unchecked(&b[..]).extensions().count(), 0);
            let b = packet(version, &ext(0x0104, 28, 0));
            assert_eq!(check(&b), Err(Error::BadLength), "v{version}");
        }
    }

    #[test]
    fn stray_bytes_are_bad_length() {
        for n in 1..=3 {
            assert_eq!(check(&packet(4, &std::vec![0; n])), Err(Error::BadLength));
            let mut t = ext(0x0104, 16, 0);
            t.extend(std::vec![0; n]);
            assert_eq!(check(&packet(4, &t)), Err(Error::BadLength), "ext + {n}");
        }
        // A MAC followed by anything is no longer 20/24 bytes from the end.
        let mut t = mac(1, 16);
        t.extend([0; 1]);
        assert_eq!(check(&packet(3, &t)), Err(Error::BadLength));
    }

    #[test]
    fn hostile_extension_lengths() {
        // Length 0, below the minimum, odd, not a multiple of 4: malformed.
        for len in [0u16, 4, 12, 15, 17, 18, 19, 30, 0xffff] {
            let mut t = ext(0x0104, 16, 0);
            t[2..4].copy_from_slice(&len.to_be_bytes());
            t.extend([0; 16]); // 32 bytes of trailer, so it is not taken for a MAC
            assert_eq!(check(&packet(4, &t)), Err(Error::BadExtension), "len {len}");
        }
        // Well-formed lengths that run past the end: truncated.
        for len in [36u16, 64, 0x100, 0xfffc] {
            let mut t = ext(0x0104, 16, 0);
            t[2..4].copy_from_slice(&len.to_be_bytes());
            t.extend([0; 16]);
            assert_eq!(check(&packet(4, &t)), Err(Error::Truncated), "len {len}");
        }
        // A header with too little room after it: 8 or 12 bytes left.
        assert_eq!(
            check(&packet(4, &ext(1, 16, 0)[..8])),
            Err(Error::Truncated)
        );
        assert_eq!(
            check(&packet(4, &ext(1, 16, 0)[..12])),
            Err(Error::Truncated)
        );
        // The second field is the bad one.
        let mut t = ext(0x0104, 16, 0);
        t.extend(ext(0x0204, 28, 0));
        t[18..20].copy_from_slice(&8u16.to_be_bytes());
        assert_eq!(check(&packet(4, &t)), Err(Error::BadExtension));
    }

    #[test]
    fn largest_field_is_fine() {
        let b = packet(4, &ext(0xffff, 0xfffc, 0x77));
        let p = Packet::new_checked(&b[..]).unwrap();
        let f = p.extensions().next().unwrap();
        assert_eq!(
            (f.field_type(), f.len(), f.value().len()),
            (0xffff, 0xfffc, 0xfff8)
        );
    }

    #[test]
    fn twenty_or_twenty_four_bytes_left_is_a_mac() {
        // RFC 7822 §7.5: with 20 or 24 bytes left the receiver takes a MAC, even if
        // they would also parse as an extension field. A sender must not end on an
        // extension field of that size without a MAC.
        let b = packet(4, &ext(0x0104, 20, 0));
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.extensions().count(), 0);
        assert_eq!(p.mac().unwrap().key_id(), 0x0104_0014);
        // 28 bytes left: an extension field.
        let b = packet(4, &ext(0x0104, 28, 0));
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.extensions().count(), 1);
        assert_eq!(p.mac(), None);
    }

    #[test]
    fn unchecked_walk_stops_at_the_first_bad_item() {
        let mut t = ext(0x0104, 16, 0);
        t.extend(ext(0x0204, 16, 0));
        t[18..20].copy_from_slice(&0u16.to_be_bytes());
        t.extend([0; 16]);
        let b = packet(4, &t);
        let p = Packet::new_unchecked(&b[..]);
        assert_eq!(p.check_len(), Err(Error::BadExtension));
        let mut it = p.extensions();
        assert_eq!(it.next().map(|f| f.field_type()), Some(0x0104));
        assert_eq!(it.next(), None);
        assert_eq!(it.next(), None, "fused");
        assert_eq!(p.mac(), None);
    }

    #[test]
    fn constants() {
        assert_eq!(EXT_HEADER_LEN, 4);
        assert_eq!(EXT_MIN_LEN, 16);
        assert_eq!(CRYPTO_NAK_LEN, 4);
        assert_eq!(MD5_MAC_LEN, MAC_KEY_ID_LEN + 16);
        assert_eq!(SHA1_MAC_LEN, MAC_KEY_ID_LEN + 20);
    }
}

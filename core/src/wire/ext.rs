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

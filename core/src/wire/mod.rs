//! The NTP packet codec (RFC 5905 and its predecessors, RFC 7822 extension fields).
//!
//! In smoltcp's manner, each layer has two views:
//!
//! - [`Packet<T>`] is a zero-copy view over a byte buffer (`&[u8]`, `&mut [u8]`, an
//!   array…) with one getter and one setter per header field. The byte ranges live in
//!   a private `field` module.
//! - [`Repr`] is the high-level, owned representation of the 48-byte header:
//!   [`Repr::parse`] reads it out of a checked packet, [`Repr::emit`] writes it into a
//!   buffer of at least [`Repr::buffer_len`] bytes.
//!
//! Everything after the 48-byte header (the *trailer*) is walked by
//! [`Packet::extensions`] (RFC 7822 extension fields, version 4 only) and
//! [`Packet::mac`] (the symmetric-key MAC or the crypto-NAK). Reference ids and kiss
//! codes are in [`RefId`] and [`KissCode`].
//!
//! # The no-panic contract
//!
//! Nothing in this module panics, on any input, checked or not:
//!
//! - [`Packet::new_checked`] (equivalently [`Packet::check_len`]) is the gate for
//!   untrusted bytes. It accepts a buffer only if it holds a full 48-byte header, a
//!   version from 1 to 4 and a trailer that walks cleanly to its end (see below); on
//!   anything else it returns a typed [`Error`].
//! - After `new_checked` succeeded, every getter returns the value on the wire,
//!   [`Packet::extensions`] yields every extension field and [`Packet::mac`] finds the
//!   MAC, if any.
//! - On a packet made with [`Packet::new_unchecked`] over a malformed buffer, the
//!   getters still do not panic: bytes missing from a short buffer read as zero,
//!   setters leave them unwritten, and the trailer walk stops at the first malformed
//!   item (`extensions` ends, `mac` is `None`). The values are then meaningless, which
//!   is why untrusted input goes through `new_checked`.
//! - [`Repr::parse`] checks the packet again itself, so it returns an [`Error`] rather
//!   than garbage for an unchecked packet.
//! - [`Repr::emit`] writes the 48 header bytes; a buffer shorter than
//!   [`Repr::buffer_len`] keeps only what fits (no panic, but a useless packet: size
//!   the buffer with `buffer_len`).
//!
//! The code enforces this with `clippy::indexing_slicing` and
//! `clippy::arithmetic_side_effects` denied outside tests: every access is a `.get()`
//! or a fixed-size conversion, every offset computation is checked.
//!
//! # Trailer rules
//!
//! After the header, at each position the *remaining* length decides (RFC 7822, which
//! updates RFC 5905 §7.5):
//!
//! | remaining | meaning |
//! |---|---|
//! | 0 | end, no MAC |
//! | 4 | crypto-NAK: a key id of 0 and no digest (any other key id: [`Error::BadLength`]) |
//! | 20 | MAC: key id + 16-byte digest (MD5, or AES-128-CMAC) |
//! | 24 | MAC: key id + 20-byte digest (SHA-1) |
//! | anything else, version 4 | an extension field: type (16 bits), length (16 bits, ≥ 16, multiple of 4, counting the 4-byte header), value |
//! | anything else, versions 1–3 | [`Error::BadLength`]: those versions have no extension fields |
//!
//! An extension field whose length is below 16 or not a multiple of 4 is
//! [`Error::BadExtension`]; one whose length runs past the end of the buffer is
//! [`Error::Truncated`]; fewer than 4 bytes left over (not even an extension header) is
//! [`Error::BadLength`].
//!
//! The rule is ambiguous by design for a sender that breaks RFC 7822: a packet that
//! ends in a 20- or 24-byte extension field and no MAC (or in a 16- or 20-byte one and a
//! crypto-NAK) reads as a MAC. RFC 7822 therefore requires the last extension field of
//! a packet without a MAC to be at least 28 bytes; emit packets that way.
//!
//! Mode 6 (control) and mode 7 (private) messages have their own header layouts; they
//! are not NTP time packets and do not pass through [`Packet`]. Dispatch on the first
//! byte (see [`Mode::from_bits`]) before checking a packet.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

pub mod control;
mod ext;
mod header;
mod refid;

#[cfg(test)]
mod golden;
#[cfg(test)]
mod proptests;

use core::fmt;

pub use ext::{
    ExtensionField, ExtensionIter, Mac, MacKind, CRYPTO_NAK_LEN, EXT_HEADER_LEN, EXT_MIN_LEN,
    MAC_KEY_ID_LEN, MD5_MAC_LEN, SHA1_MAC_LEN,
};
pub use header::{Mode, Packet, Repr};
pub use refid::{KissCode, RefId, RefIdDisplay};

/// Length of the NTP header, bytes: everything up to and including the transmit
/// timestamp.
pub const HEADER_LEN: usize = 48;

/// Why a buffer is not an acceptable NTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Shorter than the 48-byte header, or an extension field runs past the end of the
    /// buffer. (An extension field's declared length overrunning the buffer is reported
    /// as `Truncated`, not `BadExtension`: the field may be well formed but cut short.)
    Truncated,
    /// The version number is 0 or 5 and above; the value is the version found.
    BadVersion(u8),
    /// An RFC 7822 extension field is malformed: length below 16 or not a multiple
    /// of 4.
    BadExtension,
    /// Trailing bytes that are neither extension fields nor a MAC (including any
    /// trailer other than a MAC on versions 1–3, and a 4-byte trailer with a non-zero
    /// key id).
    BadLength,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("NTP packet truncated"),
            Error::BadVersion(v) => write!(f, "unsupported NTP version {v}"),
            Error::BadExtension => f.write_str("malformed NTP extension field"),
            Error::BadLength => {
                f.write_str("NTP packet trailer is neither extension fields nor a MAC")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

//! Why datagrams got no answer, and the server's counters.

/// Why a datagram got no answer. Each has its own counter in [`ServerStats`].
///
/// New reasons are appended, so a counter's index never changes meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// Shorter than an NTP header, or a trailer that runs past the end.
    Truncated,
    /// Version 0 or 5 and above.
    BadVersion,
    /// Extension fields or a trailer that do not parse.
    Malformed,
    /// Mode 0 (reserved) from a version 2–4 sender.
    ModeReserved,
    /// A server-mode packet (mode 4) sent to us: we did not ask.
    ModeServer,
    /// A kiss-o'-death sent to us.
    KissOfDeath,
    /// Symmetric, broadcast or private (mode 7) mode: not served by this node.
    ModeUnsupported,
    /// Mode 6 control query: answered by the control path, not the time server.
    Control,
    /// The caller's output buffer cannot hold a response.
    NoBuffer,
    /// `restrict … ignore` matched the source.
    Ignored,
    /// `restrict … noserve` matched the source of a time request.
    NoServe,
    /// `restrict … noquery` matched the source of a mode 6 query.
    NoQuery,
    /// `restrict … version` and the request is not version 4.
    VersionRestricted,
    /// `restrict … limited`: over the `discard` limits (no kiss sent).
    RateLimited,
    /// `restrict … notrust` and the request is not authenticated.
    NotTrusted,
    /// An NTS request that cannot be answered, not even with a NAK (a malformed NTS
    /// field, no Unique Identifier, cookie or authenticator): [`NtsStats`] says which.
    NtsInvalid,
}

impl DropReason {
    /// Number of reasons; the size of [`ServerStats::dropped`].
    pub const COUNT: usize = 16;

    /// All reasons, in counter order.
    pub const ALL: [DropReason; Self::COUNT] = [
        Self::Truncated,
        Self::BadVersion,
        Self::Malformed,
        Self::ModeReserved,
        Self::ModeServer,
        Self::KissOfDeath,
        Self::ModeUnsupported,
        Self::Control,
        Self::NoBuffer,
        Self::Ignored,
        Self::NoServe,
        Self::NoQuery,
        Self::VersionRestricted,
        Self::RateLimited,
        Self::NotTrusted,
        Self::NtsInvalid,
    ];

    /// Counter index.
    pub const fn index(self) -> usize {
        match self {
            Self::Truncated => 0,
            Self::BadVersion => 1,
            Self::Malformed => 2,
            Self::ModeReserved => 3,
            Self::ModeServer => 4,
            Self::KissOfDeath => 5,
            Self::ModeUnsupported => 6,
            Self::Control => 7,
            Self::NoBuffer => 8,
            Self::Ignored => 9,
            Self::NoServe => 10,
            Self::NoQuery => 11,
            Self::VersionRestricted => 12,
            Self::RateLimited => 13,
            Self::NotTrusted => 14,
            Self::NtsInvalid => 15,
        }
    }

    /// A short name for logs and metrics labels.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::BadVersion => "bad_version",
            Self::Malformed => "malformed",
            Self::ModeReserved => "mode_reserved",
            Self::ModeServer => "mode_server",
            Self::KissOfDeath => "kiss_of_death",
            Self::ModeUnsupported => "mode_unsupported",
            Self::Control => "control",
            Self::NoBuffer => "no_buffer",
            Self::Ignored => "restrict_ignore",
            Self::NoServe => "restrict_noserve",
            Self::NoQuery => "restrict_noquery",
            Self::VersionRestricted => "restrict_version",
            Self::RateLimited => "rate_limited",
            Self::NotTrusted => "restrict_notrust",
            Self::NtsInvalid => "nts_invalid",
        }
    }
}

impl core::fmt::Display for DropReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Counters of the server path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Requests answered, whatever the answer (time, RATE kiss, crypto-NAK).
    pub answered: u64,
    /// Of those, answers signed with the request's key.
    pub authenticated: u64,
    /// Of those, RATE kisses to over-limit clients.
    pub rate_kisses: u64,
    /// Of those, crypto-NAKs (bad MAC, unknown or untrusted key).
    pub crypto_naks: u64,
    /// Datagrams dropped, indexed by [`DropReason::index`].
    pub dropped: [u64; DropReason::COUNT],
    /// Every datagram but mode 6 that reached the server path, by the version bits
    /// of its first byte (0–7), whatever became of it: ntpq's `sysstats` "current
    /// version" (4), "older version" (1–3) and "NTPv1 total" (1).
    pub by_version: [u64; 8],
    /// Version 1 datagrams by mode: 0 (ntpq's "NTPv1 mode0"), 1 ("symm act"),
    /// 3 ("clients"); the other modes are counted at their index too.
    pub v1_by_mode: [u64; 8],
    /// MAC checks of requests, by outcome (ntpq's `authinfo`).
    pub mac: MacStats,
    /// NTS requests, by outcome (all zero without NTS keys or the `nts` feature).
    pub nts: NtsStats,
}

/// What became of the NTS requests (RFC 8915) the server path checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NtsStats {
    /// Requests verified and answered with authenticated time.
    pub served: u64,
    /// New cookies sent in those answers.
    pub cookies_issued: u64,
    /// NTS NAKs sent (the three reasons below).
    pub naks: u64,
    /// Of `naks`: the cookie's master key id is neither the current nor the previous.
    pub nak_unknown_key: u64,
    /// Of `naks`: the cookie did not open (forged, wrong length, other AEAD).
    pub nak_bad_cookie: u64,
    /// Of `naks`: the authenticator did not verify under the cookie's C2S key.
    pub nak_forged: u64,
    /// Dropped: a malformed or misplaced NTS field (or packet).
    pub dropped_malformed: u64,
    /// Dropped: no Unique Identifier.
    pub dropped_no_unique_id: u64,
    /// Dropped: no NTS Cookie.
    pub dropped_no_cookie: u64,
    /// Dropped: no authenticator.
    pub dropped_no_authenticator: u64,
}

impl NtsStats {
    /// All zero.
    pub const ZERO: NtsStats = NtsStats {
        served: 0,
        cookies_issued: 0,
        naks: 0,
        nak_unknown_key: 0,
        nak_bad_cookie: 0,
        nak_forged: 0,
        dropped_malformed: 0,
        dropped_no_unique_id: 0,
        dropped_no_cookie: 0,
        dropped_no_authenticator: 0,
    };

    /// Adds another thread's counters.
    pub fn merge(&mut self, o: &NtsStats) {
        self.served += o.served;
        self.cookies_issued += o.cookies_issued;
        self.naks += o.naks;
        self.nak_unknown_key += o.nak_unknown_key;
        self.nak_bad_cookie += o.nak_bad_cookie;
        self.nak_forged += o.nak_forged;
        self.dropped_malformed += o.dropped_malformed;
        self.dropped_no_unique_id += o.dropped_no_unique_id;
        self.dropped_no_cookie += o.dropped_no_cookie;
        self.dropped_no_authenticator += o.dropped_no_authenticator;
    }
}

/// What became of the MACs the server path checked and made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MacStats {
    /// Requests whose key was looked up (every MAC but a crypto-NAK).
    pub lookups: u64,
    /// Of those, key ids not in the keys file.
    pub not_found: u64,
    /// Requests verified under a digest key (MD5, SHA1), and how many failed.
    pub digest_checked: u64,
    /// Of `digest_checked`, failed (wrong digest or length, untrusted key).
    pub digest_failed: u64,
    /// Requests verified under an AES-CMAC key.
    pub cmac_checked: u64,
    /// Of `cmac_checked`, failed.
    pub cmac_failed: u64,
    /// Answers signed with a digest key.
    pub digest_signed: u64,
    /// Answers signed with an AES-CMAC key.
    pub cmac_signed: u64,
}

impl MacStats {
    /// Adds another thread's counters.
    pub fn merge(&mut self, o: &MacStats) {
        self.lookups += o.lookups;
        self.not_found += o.not_found;
        self.digest_checked += o.digest_checked;
        self.digest_failed += o.digest_failed;
        self.cmac_checked += o.cmac_checked;
        self.cmac_failed += o.cmac_failed;
        self.digest_signed += o.digest_signed;
        self.cmac_signed += o.cmac_signed;
    }
}

impl ServerStats {
    /// All zero.
    pub const ZERO: ServerStats = ServerStats {
        answered: 0,
        authenticated: 0,
        rate_kisses: 0,
        crypto_naks: 0,
        dropped: [0; DropReason::COUNT],
        by_version: [0; 8],
        v1_by_mode: [0; 8],
        mac: MacStats {
            lookups: 0,
            not_found: 0,
            digest_checked: 0,
            digest_failed: 0,
            cmac_checked: 0,
            cmac_failed: 0,
            digest_signed: 0,
            cmac_signed: 0,
        },
        nts: NtsStats::ZERO,
    };

    /// Datagrams that reached the server path: answered or dropped.
    pub fn received(&self) -> u64 {
        self.answered + self.dropped_total()
    }

    /// Drops of one reason.
    pub fn dropped_for(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason.index()).copied().unwrap_or(0)
    }

    /// Drops of every reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// Adds another thread's counters into these.
    pub fn merge(&mut self, other: &ServerStats) {
        self.answered += other.answered;
        self.authenticated += other.authenticated;
        self.rate_kisses += other.rate_kisses;
        self.crypto_naks += other.crypto_naks;
        for (a, b) in self.dropped.iter_mut().zip(other.dropped.iter()) {
            *a += *b;
        }
        for (a, b) in self.by_version.iter_mut().zip(other.by_version.iter()) {
            *a += *b;
        }
        for (a, b) in self.v1_by_mode.iter_mut().zip(other.v1_by_mode.iter()) {
            *a += *b;
        }
        self.mac.merge(&other.mac);
        self.nts.merge(&other.nts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_consistent() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert!(!r.name().is_empty());
            for other in &DropReason::ALL[..i] {
                assert_ne!(other.name(), r.name());
            }
        }
    }
}

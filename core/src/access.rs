//! The `restrict` table (ntp_acc(5)): which source addresses get what service.
//!
//! An [`AccessTable`] holds up to `N` entries, each an address, a mask and a set of
//! [`AccessFlags`], in a fixed-capacity array (no heap). [`AccessTable::lookup`] finds
//! the most specific entry matching a source address and port and returns its flags
//! as an [`Access`], whose `may_*` methods answer the questions the server and the
//! control (mode 6) path ask.
//!
//! # Matching, as ntpd does it
//!
//! - An entry matches when `source & mask == address` (the address is stored with
//!   its host bits cleared). IPv4 and IPv6 entries are separate; an IPv4-mapped IPv6
//!   source (`::ffff:a.b.c.d`, what a dual-stack socket reports) is matched as IPv4.
//! - The most specific match wins: the entry with the numerically largest mask (for
//!   ordinary masks, the longest prefix), not the last line of the file. Between two
//!   entries with the same address and mask, one limited to source port 123
//!   (`ntpport`) is more specific than one that is not.
//! - `default` is address 0 with mask 0 of its family; `restrict default` without
//!   `-4`/`-6` is one entry per family.
//! - Lines for the same address and mask add their flags up (ntpd ORs them).
//!
//! # When there is no `restrict default`
//!
//! ntpd 4.2.8 (the daemon of the CentOS fleets slew replaces) has a built-in default
//! entry with no flags: everything is served and mode 6 queries are answered. ntpsec
//! instead starts from `noquery limited`. slew follows ntpd 4.2.8 — an ntp.conf
//! without restrict lines keeps serving the cluster as before — and `slewd` warns at
//! start when it serves on a wildcard address without a `restrict default` line. The
//! built-in default is a parameter of [`AccessTable::new`] for ports that want
//! ntpsec's.
//!
//! # Cost per packet
//!
//! Entries are kept sorted by (family, mask descending, address, port-123-only
//! first), with a small index of the distinct masks of each family. A lookup walks the
//! distinct masks of the source's family from most to least specific and binary
//! searches the entries of each: O(M · log N) comparisons for M distinct masks (M ≤ 33
//! for IPv4, ≤ 129 for IPv6 with prefix masks, in practice 3 or 4) and no allocation.
//! The first hit is the answer, so the common case — a client matched only by
//! `default` — costs M binary searches of small runs.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

use core::fmt;
use core::net::IpAddr;

/// The flags of one `restrict` entry, a bit set.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AccessFlags(u32);

impl AccessFlags {
    /// No restriction.
    pub const NONE: AccessFlags = AccessFlags(0);
    /// `ignore`: drop every packet, control queries included.
    pub const IGNORE: AccessFlags = AccessFlags(1 << 0);
    /// `noserve`: no time service; control queries are still answered.
    pub const NOSERVE: AccessFlags = AccessFlags(1 << 1);
    /// `noquery`: no mode 6 (or mode 7) queries; time service continues.
    pub const NOQUERY: AccessFlags = AccessFlags(1 << 2);
    /// `nomodify`: no mode 6 requests that change state (writes, configuration).
    pub const NOMODIFY: AccessFlags = AccessFlags(1 << 3);
    /// `notrap`: no mode 6 trap service.
    pub const NOTRAP: AccessFlags = AccessFlags(1 << 4);
    /// `nopeer`: no new associations from unauthenticated packets.
    pub const NOPEER: AccessFlags = AccessFlags(1 << 5);
    /// `limited`: rate-limit time requests by the `discard` parameters.
    pub const LIMITED: AccessFlags = AccessFlags(1 << 6);
    /// `kod`: with `limited`, answer over-limit requests with a RATE kiss.
    pub const KOD: AccessFlags = AccessFlags(1 << 7);
    /// `nomrulist`: no mode 6 MRU list requests.
    pub const NOMRULIST: AccessFlags = AccessFlags(1 << 8);
    /// `version`: drop time requests of other versions than 4.
    pub const VERSION: AccessFlags = AccessFlags(1 << 9);
    /// `notrust`: time requests must be authenticated (with a trusted key).
    pub const NOTRUST: AccessFlags = AccessFlags(1 << 10);
    /// `noepeer`: no ephemeral peer associations (slew makes none).
    pub const NOEPEER: AccessFlags = AccessFlags(1 << 11);
    /// `lowpriotrap`: traps set from here are low priority (slew sets no traps).
    pub const LOWPRIOTRAP: AccessFlags = AccessFlags(1 << 12);

    /// Every flag with its ntp.conf word, in bit order.
    pub const NAMED: [(AccessFlags, &'static str); 13] = [
        (Self::IGNORE, "ignore"),
        (Self::NOSERVE, "noserve"),
        (Self::NOQUERY, "noquery"),
        (Self::NOMODIFY, "nomodify"),
        (Self::NOTRAP, "notrap"),
        (Self::NOPEER, "nopeer"),
        (Self::LIMITED, "limited"),
        (Self::KOD, "kod"),
        (Self::NOMRULIST, "nomrulist"),
        (Self::VERSION, "version"),
        (Self::NOTRUST, "notrust"),
        (Self::NOEPEER, "noepeer"),
        (Self::LOWPRIOTRAP, "lowpriotrap"),
    ];

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: AccessFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union.
    #[must_use]
    pub const fn union(self, other: AccessFlags) -> AccessFlags {
        AccessFlags(self.0 | other.0)
    }

    /// Whether no flag is set (unrestricted).
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The same flags as ntpd's `RES_*` bits, which ntpq's `mrulist` prints in its
    /// `rstr` column (ntpsec's `ntp/magic.py`: ignore 0x1, noserve 0x2, notrust 0x4,
    /// version 0x8, nopeer 0x10, limited 0x20, noquery 0x40, nomodify 0x80, notrap
    /// 0x100, lowpriotrap 0x200, kod 0x400, nomrulist 0x2000).
    pub fn ntpd_bits(self) -> u16 {
        const MAP: [(AccessFlags, u16); 12] = [
            (AccessFlags::IGNORE, 0x0001),
            (AccessFlags::NOSERVE, 0x0002),
            (AccessFlags::NOTRUST, 0x0004),
            (AccessFlags::VERSION, 0x0008),
            (AccessFlags::NOPEER, 0x0010),
            (AccessFlags::LIMITED, 0x0020),
            (AccessFlags::NOQUERY, 0x0040),
            (AccessFlags::NOMODIFY, 0x0080),
            (AccessFlags::NOTRAP, 0x0100),
            (AccessFlags::LOWPRIOTRAP, 0x0200),
            (AccessFlags::KOD, 0x0400),
            (AccessFlags::NOMRULIST, 0x2000),
        ];
        MAP.iter()
            .filter(|(f, _)| self.contains(*f))
            .fold(0, |out, (_, b)| out | b)
    }

    /// The flag a ntp.conf word names.
    pub fn from_name(word: &str) -> Option<AccessFlags> {
        Self::NAMED
            .iter()
            .find(|(_, name)| *name == word)
            .map(|(f, _)| *f)
    }
}

impl core::ops::BitOr for AccessFlags {
    type Output = AccessFlags;
    fn bitor(self, rhs: AccessFlags) -> AccessFlags {
        self.union(rhs)
    }
}

impl core::ops::BitOrAssign for AccessFlags {
    fn bitor_assign(&mut self, rhs: AccessFlags) {
        *self = self.union(rhs);
    }
}

impl fmt::Debug for AccessFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessFlags(")?;
        let mut first = true;
        for (flag, name) in Self::NAMED {
            if self.contains(flag) {
                if !first {
                    f.write_str(" ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        f.write_str(")")
    }
}

/// The flags that apply to one source, with the questions asked of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// The flags of the most specific matching entry.
    pub flags: AccessFlags,
}

impl Access {
    /// Unrestricted.
    pub const OPEN: Access = Access {
        flags: AccessFlags::NONE,
    };

    /// `ignore`: drop everything from this source.
    pub const fn is_ignored(self) -> bool {
        self.flags.contains(AccessFlags::IGNORE)
    }

    /// Time service (mode 3 requests): neither `ignore` nor `noserve`.
    pub const fn may_serve(self) -> bool {
        !self.is_ignored() && !self.flags.contains(AccessFlags::NOSERVE)
    }

    /// Mode 6 queries: neither `ignore` nor `noquery`. Mode 7 is never answered.
    pub const fn may_query(self) -> bool {
        !self.is_ignored() && !self.flags.contains(AccessFlags::NOQUERY)
    }

    /// Mode 6 requests that change state: a query that is also not `nomodify`.
    pub const fn may_modify(self) -> bool {
        self.may_query() && !self.flags.contains(AccessFlags::NOMODIFY)
    }

    /// Mode 6 trap requests: a query that is also not `notrap`.
    pub const fn may_trap(self) -> bool {
        self.may_query() && !self.flags.contains(AccessFlags::NOTRAP)
    }

    /// Mode 6 MRU list reads: a query that is also not `nomrulist`.
    pub const fn may_read_mru(self) -> bool {
        self.may_query() && !self.flags.contains(AccessFlags::NOMRULIST)
    }

    /// New associations from unauthenticated packets: not `nopeer`.
    pub const fn may_peer(self) -> bool {
        !self.is_ignored() && !self.flags.contains(AccessFlags::NOPEER)
    }

    /// Time requests are subject to the rate limiter (`limited`).
    pub const fn is_limited(self) -> bool {
        self.flags.contains(AccessFlags::LIMITED)
    }

    /// Over-limit requests get a RATE kiss (`limited` and `kod` both set).
    pub const fn sends_kod(self) -> bool {
        self.flags
            .contains(AccessFlags::LIMITED.union(AccessFlags::KOD))
    }

    /// Time requests of versions other than 4 are dropped (`version`).
    pub const fn requires_v4(self) -> bool {
        self.flags.contains(AccessFlags::VERSION)
    }

    /// Time requests must be authenticated (`notrust`).
    pub const fn requires_auth(self) -> bool {
        self.flags.contains(AccessFlags::NOTRUST)
    }
}

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// Why an entry could not be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessError {
    /// The address and the mask are of different families.
    FamilyMismatch,
    /// The table holds `N` entries already.
    Full,
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessError::FamilyMismatch => f.write_str("address and mask of different families"),
            AccessError::Full => f.write_str("too many restrict entries"),
        }
    }
}

/// A source as the table sees it: family and address bits (IPv4 in the low 32 bits).
fn key_of(addr: IpAddr) -> (Family, u128) {
    match addr {
        IpAddr::V4(a) => (Family::V4, u128::from(u32::from(a))),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => (Family::V4, u128::from(u32::from(v4))),
            None => (Family::V6, u128::from(a)),
        },
    }
}

/// One entry, address bits already masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    family: Family,
    mask: u128,
    addr: u128,
    /// `ntpport`: matches only packets from source port 123.
    ntp_port_only: bool,
    flags: AccessFlags,
}

impl Entry {
    /// Sort order: family, most specific mask first, address, port-123-only first.
    fn order(&self) -> (Family, core::cmp::Reverse<u128>, u128, bool) {
        (
            self.family,
            core::cmp::Reverse(self.mask),
            self.addr,
            !self.ntp_port_only,
        )
    }
}

/// A run of entries sharing family and mask: `start..end` in the sorted entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MaskGroup {
    family: Family,
    mask: u128,
    start: usize,
    end: usize,
}

/// The restrict table: at most `N` entries, most specific match wins.
#[derive(Clone, Debug)]
pub struct AccessTable<const N: usize> {
    entries: heapless::Vec<Entry, N>,
    groups: heapless::Vec<MaskGroup, N>,
    builtin_default: AccessFlags,
}

impl<const N: usize> Default for AccessTable<N> {
    fn default() -> Self {
        Self::new(AccessFlags::NONE)
    }
}

impl<const N: usize> AccessTable<N> {
    /// An empty table; sources no entry matches get `builtin_default`
    /// ([`AccessFlags::NONE`] is ntpd 4.2.8's, see the module docs).
    pub const fn new(builtin_default: AccessFlags) -> Self {
        Self {
            entries: heapless::Vec::new(),
            groups: heapless::Vec::new(),
            builtin_default,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table has no entries (every source gets the built-in default).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds `flags` for `addr`/`mask` (host bits of `addr` are cleared). A second
    /// entry for the same address, mask and `ntp_port_only` adds its flags to the
    /// first.
    pub fn insert(
        &mut self,
        addr: IpAddr,
        mask: IpAddr,
        ntp_port_only: bool,
        flags: AccessFlags,
    ) -> Result<(), AccessError> {
        let (family, bits) = key_of(addr);
        let (mask_family, mask_bits) = match mask {
            // A mask is never read as IPv4-mapped: ::ffff:255.255.255.0 is a v6 mask.
            IpAddr::V4(m) => (Family::V4, u128::from(u32::from(m))),
            IpAddr::V6(m) => (Family::V6, u128::from(m)),
        };
        let family = match (addr, family) {
            // `::ffff:a.b.c.d mask <v6 mask>` stays a v6 entry.
            (IpAddr::V6(a), Family::V4) if mask_family == Family::V6 => {
                return self.insert_bits(
                    Family::V6,
                    u128::from(a),
                    mask_bits,
                    ntp_port_only,
                    flags,
                );
            }
            (_, f) => f,
        };
        if family != mask_family {
            return Err(AccessError::FamilyMismatch);
        }
        self.insert_bits(family, bits, mask_bits, ntp_port_only, flags)
    }

    /// Adds `flags` to the `default` entry of `family` (address 0, mask 0).
    pub fn insert_default(
        &mut self,
        family: Family,
        flags: AccessFlags,
    ) -> Result<(), AccessError> {
        self.insert_bits(family, 0, 0, false, flags)
    }

    fn insert_bits(
        &mut self,
        family: Family,
        addr: u128,
        mask: u128,
        ntp_port_only: bool,
        flags: AccessFlags,
    ) -> Result<(), AccessError> {
        let entry = Entry {
            family,
            mask,
            addr: addr & mask,
            ntp_port_only,
            flags,
        };
        let order = entry.order();
        match self.entries.binary_search_by(|e| e.order().cmp(&order)) {
            Ok(i) => {
                if let Some(e) = self.entries.get_mut(i) {
                    e.flags |= flags;
                }
            }
            Err(i) => {
                self.entries
                    .insert(i, entry)
                    .map_err(|_| AccessError::Full)?;
                self.rebuild_groups();
            }
        }
        Ok(())
    }

    /// Recomputes the mask index after an insertion (configuration time only).
    fn rebuild_groups(&mut self) {
        self.groups.clear();
        let mut start = 0;
        for (i, e) in self.entries.iter().enumerate() {
            let next = self.entries.get(i + 1);
            let last_of_run = match next {
                Some(n) => n.family != e.family || n.mask != e.mask,
                None => true,
            };
            if last_of_run {
                // Never fails: there are at most as many groups as entries.
                let _ = self.groups.push(MaskGroup {
                    family: e.family,
                    mask: e.mask,
                    start,
                    end: i + 1,
                });
                start = i + 1;
            }
        }
    }

    /// The flags for a source address and port: the most specific matching entry's,
    /// or the built-in default when none matches. See the module docs for the cost.
    pub fn lookup(&self, addr: IpAddr, port: u16) -> Access {
        Access {
            flags: self
                .matching_entry(addr, port)
                .map_or(self.builtin_default, |e| e.flags),
        }
    }

    /// True when an entry more specific than `default` matches: a `restrict` line
    /// naming this source's address or network. slewd answers mode 6 queries from
    /// beyond loopback only to such sources (issue 5: queries by default from
    /// localhost only).
    pub fn matches_specific(&self, addr: IpAddr, port: u16) -> bool {
        self.matching_entry(addr, port).is_some_and(|e| e.mask != 0)
    }

    fn matching_entry(&self, addr: IpAddr, port: u16) -> Option<&Entry> {
        let (family, bits) = key_of(addr);
        for g in self.groups.iter().filter(|g| g.family == family) {
            let Some(run) = self.entries.get(g.start..g.end) else {
                continue;
            };
            let target = bits & g.mask;
            // The first entry with this address (port-123-only sorts first).
            let first = run.partition_point(|e| e.addr < target);
            for e in run.get(first..).unwrap_or(&[]).iter().take(2) {
                if e.addr != target {
                    break;
                }
                if !e.ntp_port_only || port == 123 {
                    return Some(e);
                }
            }
        }
        None
    }

    /// Whether a `default` entry exists for `family` (slewd warns when it serves on a
    /// wildcard address without one).
    pub fn has_default(&self, family: Family) -> bool {
        self.entries
            .iter()
            .any(|e| e.family == family && e.mask == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The article's restrict lines (shared/fixtures/seed-server-ntp.conf).
    fn article() -> AccessTable<16> {
        let mut t = AccessTable::new(AccessFlags::NONE);
        let def = AccessFlags::KOD
            | AccessFlags::NOMODIFY
            | AccessFlags::NOTRAP
            | AccessFlags::NOPEER
            | AccessFlags::NOQUERY;
        t.insert_default(Family::V4, def).unwrap();
        t.insert_default(Family::V6, def).unwrap();
        t.insert(
            ip("127.0.0.1"),
            ip("255.255.255.255"),
            false,
            AccessFlags::NONE,
        )
        .unwrap();
        t.insert(
            ip("::1"),
            ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            false,
            AccessFlags::NONE,
        )
        .unwrap();
        t.insert(
            ip("192.168.40.0"),
            ip("255.255.255.0"),
            false,
            AccessFlags::NOMODIFY | AccessFlags::NOTRAP,
        )
        .unwrap();
        t.insert(
            ip("210.72.145.44"),
            ip("255.255.255.255"),
            false,
            AccessFlags::NOMODIFY | AccessFlags::NOTRAP | AccessFlags::NOQUERY,
        )
        .unwrap();
        t
    }

    #[test]
    fn article_rules() {
        let t = article();
        let lo = t.lookup(ip("127.0.0.1"), 40000);
        assert!(lo.may_query() && lo.may_modify() && lo.may_serve());
        let lo2 = t.lookup(ip("127.0.0.2"), 40000);
        assert!(!lo2.may_query(), "only 127.0.0.1 is open, not 127/8");
        assert!(lo2.may_serve());
        let lan = t.lookup(ip("192.168.40.77"), 123);
        assert!(lan.may_query() && !lan.may_modify() && !lan.may_trap());
        let up = t.lookup(ip("210.72.145.44"), 123);
        assert!(!up.may_query() && up.may_serve());
        let v6 = t.lookup(ip("2001:db8::1"), 123);
        assert!(!v6.may_query() && v6.may_serve() && !v6.may_peer());
        assert!(t.lookup(ip("::1"), 1).may_modify());
        assert!(t.has_default(Family::V4) && t.has_default(Family::V6));
    }

    #[test]
    fn every_flag_answers_its_question() {
        let a = |f| Access { flags: f };
        assert!(Access::OPEN.may_serve() && Access::OPEN.may_query() && Access::OPEN.may_peer());
        assert!(!Access::OPEN.is_limited() && !Access::OPEN.sends_kod());
        let ig = a(AccessFlags::IGNORE);
        assert!(!ig.may_serve() && !ig.may_query() && !ig.may_modify() && !ig.may_peer());
        assert!(ig.is_ignored());
        let ns = a(AccessFlags::NOSERVE);
        assert!(!ns.may_serve() && ns.may_query());
        let nq = a(AccessFlags::NOQUERY);
        assert!(nq.may_serve() && !nq.may_query() && !nq.may_modify() && !nq.may_trap());
        let nm = a(AccessFlags::NOMODIFY);
        assert!(nm.may_query() && !nm.may_modify() && nm.may_trap());
        let nt = a(AccessFlags::NOTRAP);
        assert!(nt.may_modify() && !nt.may_trap());
        let nmru = a(AccessFlags::NOMRULIST);
        assert!(nmru.may_query() && !nmru.may_read_mru());
        assert!(!a(AccessFlags::NOPEER).may_peer());
        assert!(a(AccessFlags::LIMITED).is_limited());
        assert!(!a(AccessFlags::LIMITED).sends_kod());
        assert!(!a(AccessFlags::KOD).sends_kod(), "kod alone does nothing");
        assert!(a(AccessFlags::KOD | AccessFlags::LIMITED).sends_kod());
        assert!(a(AccessFlags::VERSION).requires_v4());
        assert!(a(AccessFlags::NOTRUST).requires_auth());
        for (flag, name) in AccessFlags::NAMED {
            assert_eq!(AccessFlags::from_name(name), Some(flag));
        }
        assert_eq!(AccessFlags::from_name("nonsense"), None);
    }

    #[test]
    fn most_specific_wins_whatever_the_order() {
        let orders: [[usize; 3]; 3] = [[0, 1, 2], [2, 1, 0], [1, 2, 0]];
        let rules = [
            (ip("10.0.0.0"), ip("255.0.0.0"), AccessFlags::NOQUERY),
            (ip("10.1.0.0"), ip("255.255.0.0"), AccessFlags::NOSERVE),
            (ip("10.1.2.3"), ip("255.255.255.255"), AccessFlags::IGNORE),
        ];
        for order in orders {
            let mut t: AccessTable<8> = AccessTable::default();
            for i in order {
                let (a, m, f) = rules[i];
                t.insert(a, m, false, f).unwrap();
            }
            assert_eq!(t.lookup(ip("10.9.9.9"), 1).flags, AccessFlags::NOQUERY);
            assert_eq!(t.lookup(ip("10.1.9.9"), 1).flags, AccessFlags::NOSERVE);
            assert_eq!(t.lookup(ip("10.1.2.3"), 1).flags, AccessFlags::IGNORE);
            assert_eq!(t.lookup(ip("11.0.0.1"), 1).flags, AccessFlags::NONE);
        }
    }

    #[test]
    fn specific_matches_are_told_from_default() {
        let mut t: AccessTable<4> = AccessTable::default();
        t.insert_default(Family::V4, AccessFlags::NOQUERY).unwrap();
        t.insert(
            ip("192.168.40.0"),
            ip("255.255.255.0"),
            false,
            AccessFlags::NOMODIFY,
        )
        .unwrap();
        assert!(t.matches_specific(ip("192.168.40.7"), 5000));
        assert!(
            !t.matches_specific(ip("10.0.0.1"), 5000),
            "only default matches"
        );
        assert!(!t.matches_specific(ip("::1"), 5000), "nothing matches");
    }

    #[test]
    fn host_bits_are_cleared_and_lines_add_up() {
        let mut t: AccessTable<4> = AccessTable::default();
        t.insert(
            ip("192.168.40.99"),
            ip("255.255.255.0"),
            false,
            AccessFlags::NOQUERY,
        )
        .unwrap();
        t.insert(
            ip("192.168.40.0"),
            ip("255.255.255.0"),
            false,
            AccessFlags::NOTRAP,
        )
        .unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(
            t.lookup(ip("192.168.40.1"), 1).flags,
            AccessFlags::NOQUERY | AccessFlags::NOTRAP
        );
    }

    #[test]
    fn ipv6_prefixes_and_mapped_ipv4() {
        let mut t: AccessTable<8> = AccessTable::new(AccessFlags::NONE);
        t.insert_default(Family::V6, AccessFlags::IGNORE).unwrap();
        t.insert(
            ip("2001:db8::"),
            ip("ffff:ffff::"),
            false,
            AccessFlags::NOQUERY,
        )
        .unwrap();
        t.insert(
            ip("2001:db8:1::"),
            ip("ffff:ffff:ffff::"),
            false,
            AccessFlags::NONE,
        )
        .unwrap();
        t.insert(ip("10.0.0.0"), ip("255.0.0.0"), false, AccessFlags::NOSERVE)
            .unwrap();
        assert!(t.lookup(ip("2001:db9::1"), 1).is_ignored());
        assert_eq!(t.lookup(ip("2001:db8:2::1"), 1).flags, AccessFlags::NOQUERY);
        assert_eq!(t.lookup(ip("2001:db8:1::5"), 1).flags, AccessFlags::NONE);
        // A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
        let mapped = IpAddr::V6(Ipv4Addr::new(10, 2, 3, 4).to_ipv6_mapped());
        assert_eq!(t.lookup(mapped, 1).flags, AccessFlags::NOSERVE);
        // IPv4 has no default here: the built-in (open) applies, not IPv6's.
        assert_eq!(t.lookup(ip("11.1.1.1"), 1).flags, AccessFlags::NONE);
        assert!(!t.has_default(Family::V4) && t.has_default(Family::V6));
        // The v6 default (mask 0) does not match v4.
        assert!(t.lookup(IpAddr::V6(Ipv6Addr::LOCALHOST), 1).is_ignored());
    }

    #[test]
    fn ntpport_entries_match_only_port_123() {
        let mut t: AccessTable<4> = AccessTable::default();
        t.insert(
            ip("10.0.0.1"),
            ip("255.255.255.255"),
            true,
            AccessFlags::NOQUERY,
        )
        .unwrap();
        t.insert(
            ip("10.0.0.1"),
            ip("255.255.255.255"),
            false,
            AccessFlags::NOSERVE,
        )
        .unwrap();
        t.insert(
            ip("10.0.0.2"),
            ip("255.255.255.255"),
            true,
            AccessFlags::IGNORE,
        )
        .unwrap();
        assert_eq!(t.lookup(ip("10.0.0.1"), 123).flags, AccessFlags::NOQUERY);
        assert_eq!(t.lookup(ip("10.0.0.1"), 40000).flags, AccessFlags::NOSERVE);
        assert!(t.lookup(ip("10.0.0.2"), 123).is_ignored());
        assert!(!t.lookup(ip("10.0.0.2"), 124).is_ignored());
    }

    #[test]
    fn builtin_default_and_errors() {
        let t: AccessTable<2> = AccessTable::new(AccessFlags::NOQUERY | AccessFlags::LIMITED);
        let a = t.lookup(ip("1.2.3.4"), 123);
        assert!(!a.may_query() && a.is_limited());
        let mut t: AccessTable<2> = AccessTable::default();
        assert_eq!(
            t.insert(ip("1.2.3.4"), ip("ffff::"), false, AccessFlags::NONE),
            Err(AccessError::FamilyMismatch)
        );
        t.insert(ip("1.0.0.0"), ip("255.0.0.0"), false, AccessFlags::NONE)
            .unwrap();
        t.insert(ip("2.0.0.0"), ip("255.0.0.0"), false, AccessFlags::NONE)
            .unwrap();
        assert_eq!(
            t.insert(ip("3.0.0.0"), ip("255.0.0.0"), false, AccessFlags::NONE),
            Err(AccessError::Full)
        );
        // Adding flags to an existing entry needs no room.
        t.insert(ip("2.0.0.0"), ip("255.0.0.0"), false, AccessFlags::NOQUERY)
            .unwrap();
    }

    #[test]
    fn non_contiguous_masks_order_by_value() {
        // ntpd orders by the mask's numeric value; so does slew.
        let mut t: AccessTable<4> = AccessTable::default();
        t.insert(
            ip("10.0.0.5"),
            ip("255.0.0.255"),
            false,
            AccessFlags::NOQUERY,
        )
        .unwrap();
        t.insert(ip("10.0.0.0"), ip("255.0.0.0"), false, AccessFlags::NOSERVE)
            .unwrap();
        assert_eq!(t.lookup(ip("10.7.7.5"), 1).flags, AccessFlags::NOQUERY);
        assert_eq!(t.lookup(ip("10.7.7.6"), 1).flags, AccessFlags::NOSERVE);
    }

    #[test]
    fn many_masks_stay_correct() {
        // Every prefix length of 10.0.0.0/8..32 with its own flag set: each address
        // gets the longest one.
        let mut t: AccessTable<32> = AccessTable::default();
        for len in 8..=32u32 {
            let mask = u32::MAX << (32 - len);
            let addr = 0x0A00_0000u32 & mask;
            t.insert(
                IpAddr::V4(addr.into()),
                IpAddr::V4(mask.into()),
                false,
                AccessFlags(len),
            )
            .unwrap();
        }
        assert_eq!(t.lookup(ip("10.0.0.0"), 1).flags, AccessFlags(32));
        assert_eq!(t.lookup(ip("10.0.0.1"), 1).flags, AccessFlags(31));
        assert_eq!(t.lookup(ip("10.128.0.0"), 1).flags, AccessFlags(8));
        assert_eq!(t.lookup(ip("10.0.1.0"), 1).flags, AccessFlags(23));
    }
}

//! The typed configuration: what an ntp.conf says, checked and resolved, with the
//! location of every item so that the daemon's log lines can point back at the file.
//!
//! Defaults are *not* filled in here: an option the file does not give is `None` (or
//! `false`), and the part of slew that uses it applies the default. That keeps "the
//! admin said 6" apart from "nobody said anything", which matters on SIGHUP reloads
//! and in `--check-config` output.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;

pub use super::error::Location;
pub use super::keys::{Key, KeyFile, KeyId, KeyType};

/// A value and the place in the configuration it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub at: Location,
}

/// `-4` or `-6` before an address: which family a host name resolves to, or which
/// family `restrict default` applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressFamily {
    /// `-4`
    V4,
    /// `-6`
    V6,
}

/// A remote time source's address as written: resolved by the daemon, not here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A numeric address.
    Ip(IpAddr),
    /// A DNS name (checked for syntax only).
    Name(String),
}

/// Which directive declared a remote source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// `server`: a client association (mode 3).
    Server,
    /// `pool`: a name resolving to several servers, each a client association.
    Pool,
    /// `peer`: a symmetric active association (mode 1).
    Peer,
}

impl SourceKind {
    /// The directive's name.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Server => "server",
            SourceKind::Pool => "pool",
            SourceKind::Peer => "peer",
        }
    }
}

/// Options of `server`/`pool`/`peer` (and of the local clock, where they apply).
///
/// Polls are log2 seconds. slew refuses `minpoll`/`maxpoll` outside 3..=17 and
/// `minpoll > maxpoll` with an error where ntpd silently clamps, so that a typo
/// does not quietly poll every 8 s or every 36 hours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceOptions {
    /// `iburst`: a burst of packets when the source is unreachable (start-up).
    pub iburst: bool,
    /// `burst`: a burst of packets at each poll while reachable.
    pub burst: bool,
    /// `prefer`: favoured by selection.
    pub prefer: bool,
    /// `noselect`: polled and shown, never selected.
    pub noselect: bool,
    /// `true`: always survives the intersection algorithm (ntpd's "truechimer").
    pub truechimer: bool,
    /// `minpoll N`.
    pub minpoll: Option<u8>,
    /// `maxpoll N`.
    pub maxpoll: Option<u8>,
    /// `key N`: authenticate with this symmetric key.
    pub key: Option<KeyId>,
    /// `version N` (1..=4).
    pub version: Option<u8>,
    /// `port N`: slew's extension, the server's UDP port (ntpd always uses 123).
    /// On an `nts` line it is the NTS-KE port instead, kept in `nts_port`.
    pub port: Option<u16>,
    /// `nts` (ntpsec): authenticate with Network Time Security; the host is the
    /// NTS-KE server.
    pub nts: bool,
    /// `port N` on an `nts` line: the NTS-KE port (default 4460).
    pub nts_port: Option<u16>,
    /// `ca FILE` (ntpsec, with `nts`): trust these CAs instead of the system store.
    pub ca: Option<PathBuf>,
}

/// A `server`, `pool` or `peer` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Which directive.
    pub kind: SourceKind,
    /// The address or name.
    pub host: Host,
    /// `-4`/`-6`, if given.
    pub family: Option<AddressFamily>,
    /// The options.
    pub options: SourceOptions,
    /// Where the line is.
    pub at: Location,
}

/// The LOCAL reference clock (`server 127.127.1.u` with an optional `fudge`): the
/// undisciplined local clock that slew falls back to when no remote source is left.
///
/// ntpd's LOCAL driver defaults to stratum 5 and refid `LOCL` (`LCL` in older
/// releases) when no `fudge` says otherwise; the article's `fudge 127.127.1.0 stratum
/// 10` is the common case. Those defaults are the daemon's to apply. ntpd's `fudge
/// time1`/`time2` (trim the local clock's time and frequency) are refused by slew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalClock {
    /// The unit, the last octet of 127.127.1.u (`LOCAL(u)` in `ntpq -p`).
    pub unit: u8,
    /// `prefer`, `noselect`, `true`, `minpoll`, `maxpoll` from the `server` line.
    pub options: SourceOptions,
    /// `fudge … stratum N` (0..=15).
    pub stratum: Option<u8>,
    /// `fudge … refid XXXX`: up to four ASCII characters.
    pub refid: Option<String>,
    /// The `server` line.
    pub at: Location,
    /// The `fudge` line(s), if any (the last one).
    pub fudge_at: Option<Location>,
}

/// A hardware reference clock: `server 127.127.20.U` (NMEA on `/dev/gpsU`) or
/// `server 127.127.28.U` (ntpd's SHM segment), with its `fudge` lines applied.
#[derive(Debug, Clone, PartialEq)]
pub struct RefclockLine {
    /// Driver, unit, poll bounds, prefer/noselect, mode and fudge.
    pub config: slew_core::refclock::source::RefclockConfig,
    /// The `server` line.
    pub at: Location,
    /// The last `fudge` line, if any.
    pub fudge_at: Option<Location>,
}

/// A flag of `restrict` (ntp_acc(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RestrictFlag {
    /// `flake`: drop 10 % of packets (ntpd's testing aid).
    Flake,
    /// `ignore`: drop every packet, queries included.
    Ignore,
    /// `kod`: with `limited`, answer over-limit packets with a RATE kiss.
    Kod,
    /// `limited`: rate-limit by the `discard` parameters.
    Limited,
    /// `lowpriotrap`: traps set by these hosts are low priority.
    LowPrioTrap,
    /// `noepeer`: no ephemeral peer associations.
    NoEpeer,
    /// `nomodify`: no mode 6 requests that change state.
    NoModify,
    /// `nomrulist`: no mode 6 MRU list requests.
    NoMruList,
    /// `nopeer`: no new associations from unauthenticated packets.
    NoPeer,
    /// `noquery`: no mode 6 (or 7) queries at all; time service continues.
    NoQuery,
    /// `noserve`: no time service; queries still allowed.
    NoServe,
    /// `notrap`: no mode 6 trap service.
    NoTrap,
    /// `notrust`: only authenticated packets are trusted for time.
    NoTrust,
    /// `ntpport`: match only packets from source port 123.
    NtpPort,
    /// `version`: drop packets of other NTP versions.
    Version,
    /// `serverresponse fuzz`: fuzz the low bits of served timestamps.
    ServerResponseFuzz,
}

impl RestrictFlag {
    /// Every flag, in declaration order.
    pub const ALL: [RestrictFlag; 16] = [
        RestrictFlag::Flake,
        RestrictFlag::Ignore,
        RestrictFlag::Kod,
        RestrictFlag::Limited,
        RestrictFlag::LowPrioTrap,
        RestrictFlag::NoEpeer,
        RestrictFlag::NoModify,
        RestrictFlag::NoMruList,
        RestrictFlag::NoPeer,
        RestrictFlag::NoQuery,
        RestrictFlag::NoServe,
        RestrictFlag::NoTrap,
        RestrictFlag::NoTrust,
        RestrictFlag::NtpPort,
        RestrictFlag::Version,
        RestrictFlag::ServerResponseFuzz,
    ];

    /// The word in ntp.conf (`serverresponse fuzz` is two words; this gives the first).
    pub fn name(self) -> &'static str {
        match self {
            RestrictFlag::Flake => "flake",
            RestrictFlag::Ignore => "ignore",
            RestrictFlag::Kod => "kod",
            RestrictFlag::Limited => "limited",
            RestrictFlag::LowPrioTrap => "lowpriotrap",
            RestrictFlag::NoEpeer => "noepeer",
            RestrictFlag::NoModify => "nomodify",
            RestrictFlag::NoMruList => "nomrulist",
            RestrictFlag::NoPeer => "nopeer",
            RestrictFlag::NoQuery => "noquery",
            RestrictFlag::NoServe => "noserve",
            RestrictFlag::NoTrap => "notrap",
            RestrictFlag::NoTrust => "notrust",
            RestrictFlag::NtpPort => "ntpport",
            RestrictFlag::Version => "version",
            RestrictFlag::ServerResponseFuzz => "serverresponse",
        }
    }

    /// The flag a word names.
    pub fn from_name(word: &str) -> Option<Self> {
        RestrictFlag::ALL.into_iter().find(|f| f.name() == word)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of [`RestrictFlag`]s. Several `restrict` lines for the same address and mask
/// add up (ntpd ORs their flags); the empty set means unrestricted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RestrictFlags(u32);

impl RestrictFlags {
    /// No restriction.
    pub const EMPTY: RestrictFlags = RestrictFlags(0);

    /// Whether `flag` is in the set.
    pub fn contains(self, flag: RestrictFlag) -> bool {
        self.0 & flag.bit() != 0
    }

    /// Add `flag`.
    pub fn insert(&mut self, flag: RestrictFlag) {
        self.0 |= flag.bit();
    }

    /// The union of two sets.
    #[must_use]
    pub fn union(self, other: RestrictFlags) -> RestrictFlags {
        RestrictFlags(self.0 | other.0)
    }

    /// Whether the set is empty (unrestricted).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The flags in the set, in [`RestrictFlag::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = RestrictFlag> {
        RestrictFlag::ALL
            .into_iter()
            .filter(move |f| self.contains(*f))
    }
}

impl FromIterator<RestrictFlag> for RestrictFlags {
    fn from_iter<I: IntoIterator<Item = RestrictFlag>>(iter: I) -> Self {
        let mut s = RestrictFlags::EMPTY;
        for f in iter {
            s.insert(f);
        }
        s
    }
}

/// What a `restrict` line matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestrictTarget {
    /// `restrict default`: every address of the family, or of both families when no
    /// `-4`/`-6` is given (ntpd 4.2.8 behaves the same way).
    Default {
        /// `-4`/`-6`, if given.
        family: Option<AddressFamily>,
    },
    /// `restrict source`: applied to the addresses of each association as it is
    /// mobilised (what `pool` users need for `nopeer`).
    Source,
    /// A numeric address and mask; without `mask` the mask is all ones (one host).
    /// Bits of the address outside the mask are cleared, as ntpd does.
    Network {
        /// The address with host bits cleared.
        addr: IpAddr,
        /// The mask, same family as `addr`.
        mask: IpAddr,
    },
    /// A host name, to be resolved by the daemon (ntpd resolves it once, at start).
    Host {
        /// The name.
        name: String,
        /// `-4`/`-6`, if given.
        family: Option<AddressFamily>,
        /// `mask`, if given.
        mask: Option<IpAddr>,
    },
}

/// A `restrict` line. The most specific matching entry wins (longest mask), not the
/// last one in the file; that is the server's job, which gets all entries here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restrict {
    /// What it matches.
    pub target: RestrictTarget,
    /// The flags; empty means unrestricted.
    pub flags: RestrictFlags,
    /// `ippeerlimit N`: at most N peer associations per address.
    pub ippeerlimit: Option<u32>,
    /// Where the line is.
    pub at: Location,
}

/// `discard average N minimum N monitor N`: the parameters of `limited`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Discard {
    /// `average`: minimum mean interval, log2 seconds (ntpd default 3, i.e. 8 s).
    pub average: Option<u8>,
    /// `minimum`: minimum interval between two packets, seconds (ntpd default 2).
    pub minimum: Option<u32>,
    /// `monitor`: MRU monitoring probability knob (ntpd default 3000).
    pub monitor: Option<u32>,
}

/// The `keys` directive and, when the file could be read at parse time, its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysConfig {
    /// The resolved path.
    pub path: PathBuf,
    /// Where the `keys` line is.
    pub at: Location,
    /// The keys, if the file was readable (a warning otherwise).
    pub file: Option<KeyFile>,
}

/// A statistics file kind (`statistics` and `filegen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum StatsKind {
    Clockstats,
    Cryptostats,
    Loopstats,
    Peerstats,
    Protostats,
    Rawstats,
    Sysstats,
    Timingstats,
}

impl StatsKind {
    /// Every kind.
    pub const ALL: [StatsKind; 8] = [
        StatsKind::Clockstats,
        StatsKind::Cryptostats,
        StatsKind::Loopstats,
        StatsKind::Peerstats,
        StatsKind::Protostats,
        StatsKind::Rawstats,
        StatsKind::Sysstats,
        StatsKind::Timingstats,
    ];

    /// The word in ntp.conf.
    pub fn name(self) -> &'static str {
        match self {
            StatsKind::Clockstats => "clockstats",
            StatsKind::Cryptostats => "cryptostats",
            StatsKind::Loopstats => "loopstats",
            StatsKind::Peerstats => "peerstats",
            StatsKind::Protostats => "protostats",
            StatsKind::Rawstats => "rawstats",
            StatsKind::Sysstats => "sysstats",
            StatsKind::Timingstats => "timingstats",
        }
    }
}

/// How a statistics file generation set is split into files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum FilegenType {
    None,
    Pid,
    Day,
    Week,
    Month,
    Year,
    Age,
}

/// A `filegen NAME [file F] [type T] [link|nolink] [enable|disable]` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filegen {
    /// Which statistics.
    pub kind: StatsKind,
    /// `file F`: file name prefix inside `statsdir`.
    pub file: Option<String>,
    /// `type T`.
    pub file_type: Option<FilegenType>,
    /// `link` (true) / `nolink` (false).
    pub link: Option<bool>,
    /// `enable` (true) / `disable` (false).
    pub enabled: Option<bool>,
    /// Where the line is.
    pub at: Location,
}

/// `tinker` variables (ntp_misc(5)); seconds unless noted.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tinker {
    /// `allan`: Allan intercept, log2 seconds.
    pub allan: Option<f64>,
    /// `dispersion`: dispersion increase rate, PPM.
    pub dispersion: Option<f64>,
    /// `freq`: initial frequency offset, PPM (overrides the driftfile).
    pub freq: Option<f64>,
    /// `huffpuff`: huff-n'-puff filter span.
    pub huffpuff: Option<f64>,
    /// `maxslewrate`: the fastest the clock is slewed on top of its frequency, PPM
    /// (slew's extension, chrony's name; ntpd has none and slews at 500).
    pub maxslewrate: Option<f64>,
    /// `panic`: panic threshold; 0 disables the panic check.
    pub panic: Option<f64>,
    /// `step`: step threshold; 0 disables stepping (slew always).
    pub step: Option<f64>,
    /// `stepback`: step threshold for backward steps.
    pub stepback: Option<f64>,
    /// `stepfwd`: step threshold for forward steps.
    pub stepfwd: Option<f64>,
    /// `stepout`: stepout (watchdog) threshold.
    pub stepout: Option<f64>,
    /// `tick`: kernel tick, seconds.
    pub tick: Option<f64>,
}

/// `tos` variables (ntp_misc(5)).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tos {
    /// `beacon`: manycast/broadcast beacon interval, seconds.
    pub beacon: Option<u32>,
    /// `ceiling`: highest stratum accepted (exclusive).
    pub ceiling: Option<u8>,
    /// `cohort`: 1 to include same-stratum servers.
    pub cohort: Option<bool>,
    /// `floor`: lowest stratum accepted.
    pub floor: Option<u8>,
    /// `maxclock`: most associations kept (pool).
    pub maxclock: Option<u32>,
    /// `maxdist`: selection distance threshold, seconds.
    pub maxdist: Option<f64>,
    /// `minclock`: fewest survivors of the cluster algorithm.
    pub minclock: Option<u32>,
    /// `mindist`: minimum distance, seconds.
    pub mindist: Option<f64>,
    /// `minsane`: fewest candidates needed to synchronise.
    pub minsane: Option<u32>,
    /// `orphan`: orphan-mode stratum.
    pub orphan: Option<u8>,
    /// `orphanwait`: seconds before orphan mode starts.
    pub orphanwait: Option<u32>,
    /// `basedate YYYY-MM-DD`: the era pivot for timestamps.
    pub basedate: Option<String>,
}

/// What `interface` does with matching addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InterfaceAction {
    /// `listen`: open a socket.
    Listen,
    /// `ignore`: open no socket.
    Ignore,
    /// `drop`: open a socket, drop what arrives.
    Drop,
}

/// Which addresses an `interface` line matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InterfaceMatch {
    /// `all`
    All,
    /// `ipv4`
    Ipv4,
    /// `ipv6`
    Ipv6,
    /// `wildcard`
    Wildcard,
    /// An interface name, e.g. `eth0`.
    Name(String),
    /// An address with an optional `/prefix` length.
    Prefix {
        /// The address.
        addr: IpAddr,
        /// The prefix length; None means the host (all bits).
        len: Option<u8>,
    },
}

/// An `interface` (or its synonym `nic`) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceRule {
    /// What to do.
    pub action: InterfaceAction,
    /// To which addresses.
    pub matches: InterfaceMatch,
    /// Where the line is.
    pub at: Location,
}

/// A flag of `enable`/`disable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum SystemFlag {
    Auth,
    Kernel,
    Monitor,
    Ntp,
    Stats,
    /// `mode7`: only `disable mode7` is accepted; slew never answers mode 7.
    Mode7,
    PeerClearDigestEarly,
    UnpeerCryptoEarly,
    UnpeerCryptoNakEarly,
    UnpeerDigestEarly,
}

/// One flag of an `enable` or `disable` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemFlagSetting {
    /// The flag.
    pub flag: SystemFlag,
    /// `enable` (true) or `disable` (false).
    pub enabled: bool,
    /// Where.
    pub at: Location,
}

/// A whole configuration: the main file with its includes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// `server`, `pool` and `peer` lines, in file order.
    pub sources: Vec<Source>,
    /// `server 127.127.1.u` with its `fudge`.
    pub local_clocks: Vec<LocalClock>,
    /// `server 127.127.20.U` / `127.127.28.U` with their `fudge`.
    pub refclocks: Vec<RefclockLine>,
    /// `restrict` lines, in file order.
    pub restricts: Vec<Restrict>,
    /// `discard`.
    pub discard: Discard,
    /// `driftfile`.
    pub driftfile: Option<Located<PathBuf>>,
    /// `leapfile`.
    pub leapfile: Option<Located<PathBuf>>,
    /// `logfile`.
    pub logfile: Option<Located<PathBuf>>,
    /// `keys`.
    pub keys: Option<KeysConfig>,
    /// `trustedkey` lines, merged.
    pub trusted_keys: BTreeSet<KeyId>,
    /// `requestkey` (ntpdc, mode 7: recorded, unused since slew never answers mode 7).
    pub request_key: Option<Located<KeyId>>,
    /// `controlkey` (ntpq, mode 6 writes).
    pub control_key: Option<Located<KeyId>>,
    /// `statistics` lines, merged.
    pub statistics: BTreeSet<StatsKind>,
    /// `statsdir`.
    pub statsdir: Option<Located<PathBuf>>,
    /// `filegen` lines.
    pub filegens: Vec<Filegen>,
    /// `tinker`.
    pub tinker: Tinker,
    /// `tos`.
    pub tos: Tos,
    /// `interface`/`nic` lines, in file order (ntpd applies the last match).
    pub interfaces: Vec<InterfaceRule>,
    /// `enable`/`disable` flags, in file order.
    pub system_flags: Vec<SystemFlagSetting>,
    /// `nts` lines (ntpsec's NTS-KE server words).
    pub nts: super::nts::NtsConfig,
    /// Every file read: the main file first, then includes in the order read. The
    /// daemon can watch them or print them in `--check-config`.
    pub files: Vec<PathBuf>,
}

impl Config {
    /// The final setting of an `enable`/`disable` flag, if the file sets it (the
    /// last line wins).
    pub fn system_flag(&self, flag: SystemFlag) -> Option<bool> {
        self.system_flags
            .iter()
            .rev()
            .find(|s| s.flag == flag)
            .map(|s| s.enabled)
    }
}

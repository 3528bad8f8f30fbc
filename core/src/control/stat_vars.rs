//! The system variables ntpq's `sysinfo`, `kerninfo`, `sysstats`, `iostats`,
//! `monstats` and `authinfo` ask for, beyond `rv`'s: names as ntpsec 1.2.2 answers
//! them, values from [`Extras`]. Only sent when asked for by name (ntpd's default
//! `rv` list leaves them out too).
//!
//! Units as ntpd: milliseconds for delays and errors, ppm for frequencies, seconds
//! for ages, plain integers for counters. `sysstats` asks each counter twice, as
//! `name` (since the counters were reset) and `name_r` (since start); slew never
//! resets its counters, so both carry the same value.
//!
//! `kerninfo` is correct where ntpsec 1.2.2 is not: the kernel reports `maxerror`,
//! `esterror` and `precision` in microseconds, and slew shows them as milliseconds
//! (`kmaxerr=16000.000` for the kernel's 16 s); ntpsec 1.2.2 reads them as
//! nanoseconds and shows a value 1000 times too small (`kmaxerr=16`). Classic ntpd
//! 4.2.8 converts as slew does.

use core::fmt::{self, Write};

use super::extra::{Extras, KernelState, STA_WORDS};
use super::vars::Fixed;
use crate::server::{DropReason, ServerStats};

/// One of these variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatVar {
    /// `peeradr`: the system peer's address and port, `0.0.0.0:0` for none.
    PeerAdr,
    /// `peermode`: our mode towards it, 0 for none.
    PeerMode,
    /// `rootdist`, ms.
    RootDist,
    /// `authdelay`, ms (always 0, as ntpsec).
    AuthDelay,
    /// `bcastdelay`, ms (ntpd 4.2.8's; slew has no broadcast mode: 0).
    BcastDelay,
    /// A kernel variable.
    Kernel(Kern),
    /// A counter of `sysstats`, `iostats`, `monstats` or `authinfo`.
    Count(Count),
}

/// The `kerninfo` variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kern {
    /// `koffset`, ms.
    Offset,
    /// `kfreq`, ppm.
    Freq,
    /// `kmaxerr`, ms.
    MaxErr,
    /// `kesterr`, ms.
    EstErr,
    /// `kstflags`, words.
    StFlags,
    /// `ktimeconst`.
    TimeConst,
    /// `kprecis`, ms.
    Precision,
    /// `kfreqtol`, ppm.
    FreqTol,
    /// `kppsfreq`, ppm.
    PpsFreq,
    /// `kppsstab`, ppm.
    PpsStab,
    /// `kppsjitter`, ms.
    PpsJitter,
    /// `kppscalibdur`, s.
    PpsCalibDur,
    /// `kppscalibs`.
    PpsCalibs,
    /// `kppscaliberrs`.
    PpsCalibErrs,
    /// `kppsjitexc`.
    PpsJitExc,
    /// `kppsstbexc`.
    PpsStbExc,
}

/// The counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Count {
    Uptime,
    NumCtlReq,
    Reset,
    Received,
    ThisVer,
    OldVer,
    Ver1,
    Ver1Client,
    Ver1Zero,
    Ver1Symm,
    BadFormat,
    BadAuth,
    Declined,
    Restricted,
    Limited,
    KodSent,
    Processed,
    IoReset,
    TotalRbuf,
    FreeRbuf,
    UsedRbuf,
    RbufLowater,
    IoDropped,
    IoIgnored,
    IoReceived,
    IoSent,
    IoSendFailed,
    IoWakeups,
    IoGoodWakeups,
    MruEnabled,
    MruHashSlots,
    MruDepth,
    MruDeepest,
    MruMaxDepth,
    MruMinDepth,
    MruMaxAge,
    MruMinAge,
    MruMem,
    MruMaxMem,
    MruExists,
    MruNew,
    MruRecycleOld,
    MruRecycleFull,
    MruNone,
    MruOldestAge,
    AuthReset,
    AuthKeys,
    AuthFreeK,
    AuthKLookups,
    AuthKNotFound,
    AuthEncrypts,
    AuthDigestEncrypts,
    AuthCmacEncrypts,
    AuthDecrypts,
    AuthDigestDecrypts,
    AuthDigestFails,
    AuthCmacDecrypts,
    AuthCmacFails,
}

/// Every name, with its variable. `sysstats` counters appear twice (`_r`).
pub const STAT_VARS: [(&str, StatVar); 94] = {
    use Count as C;
    use Kern as K;
    use StatVar::{Count as N, Kernel as Kv};
    [
        ("peeradr", StatVar::PeerAdr),
        ("peermode", StatVar::PeerMode),
        ("rootdist", StatVar::RootDist),
        ("authdelay", StatVar::AuthDelay),
        ("bcastdelay", StatVar::BcastDelay),
        ("koffset", Kv(K::Offset)),
        ("kfreq", Kv(K::Freq)),
        ("kmaxerr", Kv(K::MaxErr)),
        ("kesterr", Kv(K::EstErr)),
        ("kstflags", Kv(K::StFlags)),
        ("ktimeconst", Kv(K::TimeConst)),
        ("kprecis", Kv(K::Precision)),
        ("kfreqtol", Kv(K::FreqTol)),
        ("kppsfreq", Kv(K::PpsFreq)),
        ("kppsstab", Kv(K::PpsStab)),
        ("kppsjitter", Kv(K::PpsJitter)),
        ("kppscalibdur", Kv(K::PpsCalibDur)),
        ("kppscalibs", Kv(K::PpsCalibs)),
        ("kppscaliberrs", Kv(K::PpsCalibErrs)),
        ("kppsjitexc", Kv(K::PpsJitExc)),
        ("kppsstbexc", Kv(K::PpsStbExc)),
        ("ss_uptime", N(C::Uptime)),
        ("ss_numctlreq", N(C::NumCtlReq)),
        ("ss_reset", N(C::Reset)),
        ("ss_reset_r", N(C::Reset)),
        ("ss_received", N(C::Received)),
        ("ss_received_r", N(C::Received)),
        ("ss_thisver", N(C::ThisVer)),
        ("ss_thisver_r", N(C::ThisVer)),
        ("ss_oldver", N(C::OldVer)),
        ("ss_oldver_r", N(C::OldVer)),
        ("ss_ver1", N(C::Ver1)),
        ("ss_ver1_r", N(C::Ver1)),
        ("ss_ver1client", N(C::Ver1Client)),
        ("ss_ver1client_r", N(C::Ver1Client)),
        ("ss_ver1zero", N(C::Ver1Zero)),
        ("ss_ver1zero_r", N(C::Ver1Zero)),
        ("ss_ver1symm", N(C::Ver1Symm)),
        ("ss_ver1symm_r", N(C::Ver1Symm)),
        ("ss_badformat", N(C::BadFormat)),
        ("ss_badformat_r", N(C::BadFormat)),
        ("ss_badauth", N(C::BadAuth)),
        ("ss_badauth_r", N(C::BadAuth)),
        ("ss_declined", N(C::Declined)),
        ("ss_declined_r", N(C::Declined)),
        ("ss_restricted", N(C::Restricted)),
        ("ss_restricted_r", N(C::Restricted)),
        ("ss_limited", N(C::Limited)),
        ("ss_limited_r", N(C::Limited)),
        ("ss_kodsent", N(C::KodSent)),
        ("ss_kodsent_r", N(C::KodSent)),
        ("ss_processed", N(C::Processed)),
        ("ss_processed_r", N(C::Processed)),
        ("iostats_reset", N(C::IoReset)),
        ("total_rbuf", N(C::TotalRbuf)),
        ("free_rbuf", N(C::FreeRbuf)),
        ("used_rbuf", N(C::UsedRbuf)),
        ("rbuf_lowater", N(C::RbufLowater)),
        ("io_dropped", N(C::IoDropped)),
        ("io_ignored", N(C::IoIgnored)),
        ("io_received", N(C::IoReceived)),
        ("io_sent", N(C::IoSent)),
        ("io_sendfailed", N(C::IoSendFailed)),
        ("io_wakeups", N(C::IoWakeups)),
        ("io_goodwakeups", N(C::IoGoodWakeups)),
        ("mru_enabled", N(C::MruEnabled)),
        ("mru_hashslots", N(C::MruHashSlots)),
        ("mru_depth", N(C::MruDepth)),
        ("mru_deepest", N(C::MruDeepest)),
        ("mru_maxdepth", N(C::MruMaxDepth)),
        ("mru_mindepth", N(C::MruMinDepth)),
        ("mru_maxage", N(C::MruMaxAge)),
        ("mru_minage", N(C::MruMinAge)),
        ("mru_mem", N(C::MruMem)),
        ("mru_maxmem", N(C::MruMaxMem)),
        ("mru_exists", N(C::MruExists)),
        ("mru_new", N(C::MruNew)),
        ("mru_recycleold", N(C::MruRecycleOld)),
        ("mru_recyclefull", N(C::MruRecycleFull)),
        ("mru_none", N(C::MruNone)),
        ("mru_oldest_age", N(C::MruOldestAge)),
        ("authreset", N(C::AuthReset)),
        ("authkeys", N(C::AuthKeys)),
        ("authfreek", N(C::AuthFreeK)),
        ("authklookups", N(C::AuthKLookups)),
        ("authknotfound", N(C::AuthKNotFound)),
        ("authencrypts", N(C::AuthEncrypts)),
        ("authdigestencrypts", N(C::AuthDigestEncrypts)),
        ("authcmacencrypts", N(C::AuthCmacEncrypts)),
        ("authdecrypts", N(C::AuthDecrypts)),
        ("authdigestdecrypts", N(C::AuthDigestDecrypts)),
        ("authdigestfails", N(C::AuthDigestFails)),
        ("authcmacdecrypts", N(C::AuthCmacDecrypts)),
        ("authcmacfails", N(C::AuthCmacFails)),
    ]
};

/// Looks a name up; the name itself comes back for writing.
pub fn lookup(name: &[u8]) -> Option<(&'static str, StatVar)> {
    STAT_VARS
        .iter()
        .copied()
        .find(|(n, _)| n.as_bytes() == name)
}

/// Writes `name=value`.
pub fn write(name: &str, var: StatVar, x: &Extras<'_>, w: &mut dyn Write) -> fmt::Result {
    match var {
        StatVar::PeerAdr => match x.sys_peer {
            Some(a) => write!(w, "{name}={a}"),
            None => write!(w, "{name}=0.0.0.0:0"),
        },
        StatVar::PeerMode => write!(w, "{name}={}", x.sys_peer_mode),
        StatVar::RootDist => write!(w, "{name}={}", Fixed(x.root_distance_s * 1e3, 3)),
        StatVar::AuthDelay | StatVar::BcastDelay => write!(w, "{name}=0.000"),
        StatVar::Kernel(k) => write_kernel(name, k, &x.kernel, w),
        StatVar::Count(c) => write!(w, "{name}={}", count(c, x)),
    }
}

fn write_kernel(name: &str, k: Kern, t: &KernelState, w: &mut dyn Write) -> fmt::Result {
    let sfp = |v: i64| Fixed(v as f64 / 65536.0, 3);
    // ntpd reports the PPS figures as 0 while the kernel has no PPS signal.
    let pps = t.shift != 0;
    match k {
        Kern::Offset => write!(w, "{name}={}", Fixed(t.fine_ms(t.offset), 6)),
        Kern::Freq => write!(w, "{name}={}", sfp(t.freq)),
        Kern::MaxErr => write!(w, "{name}={}", Fixed(t.maxerror as f64 / 1e3, 3)),
        Kern::EstErr => write!(w, "{name}={}", Fixed(t.esterror as f64 / 1e3, 3)),
        Kern::StFlags => {
            write!(w, "{name}=\"")?;
            let mut first = true;
            for (i, word) in STA_WORDS.iter().enumerate() {
                if t.status & (1 << i) != 0 {
                    if !first {
                        w.write_char(' ')?;
                    }
                    first = false;
                    w.write_str(word)?;
                }
            }
            w.write_char('"')
        }
        Kern::TimeConst => write!(w, "{name}={}", t.constant),
        Kern::Precision => write!(w, "{name}={}", Fixed(t.precision as f64 / 1e3, 6)),
        Kern::FreqTol => write!(w, "{name}={}", sfp(t.tolerance)),
        Kern::PpsFreq if pps => write!(w, "{name}={}", sfp(t.ppsfreq)),
        Kern::PpsStab if pps => write!(w, "{name}={}", sfp(t.stabil)),
        Kern::PpsJitter if pps => write!(w, "{name}={}", Fixed(t.fine_ms(t.jitter), 6)),
        Kern::PpsCalibDur if pps => write!(w, "{name}={}", 1u64 << t.shift.clamp(0, 62)),
        Kern::PpsCalibs if pps => write!(w, "{name}={}", t.calcnt),
        Kern::PpsCalibErrs if pps => write!(w, "{name}={}", t.errcnt),
        Kern::PpsJitExc if pps => write!(w, "{name}={}", t.jitcnt),
        Kern::PpsStbExc if pps => write!(w, "{name}={}", t.stbcnt),
        _ => write!(w, "{name}=0"),
    }
}

fn drops(s: &ServerStats, reasons: &[DropReason]) -> u64 {
    reasons.iter().map(|&r| s.dropped_for(r)).sum()
}

/// A counter's value.
pub fn count(c: Count, x: &Extras<'_>) -> u64 {
    let s = &x.server;
    let v = |i: usize| s.by_version.get(i).copied().unwrap_or(0);
    let v1 = |i: usize| s.v1_by_mode.get(i).copied().unwrap_or(0);
    let m = &x.monitor;
    let kib = |n: u64| (n.saturating_mul(m.entry_bytes).saturating_add(512)) / 1024;
    let a = &s.mac;
    match c {
        Count::Uptime => x.uptime_s,
        Count::NumCtlReq => x.control_requests,
        Count::Reset => x.stats_since_s,
        Count::Received => s.received(),
        Count::ThisVer => v(4),
        Count::OldVer => v(1) + v(2) + v(3),
        Count::Ver1 => v(1),
        Count::Ver1Client => v1(3),
        Count::Ver1Zero => v1(0),
        Count::Ver1Symm => v1(1),
        Count::BadFormat => drops(
            s,
            &[
                DropReason::Truncated,
                DropReason::BadVersion,
                DropReason::Malformed,
            ],
        ),
        Count::BadAuth => s.crypto_naks,
        Count::Declined => drops(
            s,
            &[
                DropReason::ModeReserved,
                DropReason::ModeServer,
                DropReason::KissOfDeath,
                DropReason::ModeUnsupported,
            ],
        ),
        Count::Restricted => drops(
            s,
            &[
                DropReason::Ignored,
                DropReason::NoServe,
                DropReason::NoQuery,
                DropReason::VersionRestricted,
                DropReason::NotTrusted,
            ],
        ),
        Count::Limited => s.dropped_for(DropReason::RateLimited) + s.rate_kisses,
        Count::KodSent => s.rate_kisses,
        Count::Processed => s
            .answered
            .saturating_sub(s.rate_kisses)
            .saturating_sub(s.crypto_naks),
        Count::IoReset => x.io.since_reset_s,
        Count::TotalRbuf => x.io.total_rbuf,
        Count::FreeRbuf => x.io.free_rbuf,
        Count::UsedRbuf => x.io.total_rbuf.saturating_sub(x.io.free_rbuf),
        Count::RbufLowater => 0,
        Count::IoDropped => x.io.dropped,
        Count::IoIgnored => x.io.ignored,
        Count::IoReceived => x.io.received,
        Count::IoSent => x.io.sent,
        Count::IoSendFailed => x.io.send_failed,
        Count::IoWakeups => x.io.wakeups,
        Count::IoGoodWakeups => x.io.good_wakeups,
        Count::MruEnabled => u64::from(m.enabled),
        Count::MruHashSlots => m.hash_slots,
        Count::MruDepth => m.depth,
        Count::MruDeepest => m.deepest,
        Count::MruMaxDepth => m.max_depth,
        Count::MruMinDepth => m.min_depth,
        Count::MruMaxAge => m.max_age_s,
        Count::MruMinAge => m.min_age_s,
        Count::MruMem => kib(m.depth),
        Count::MruMaxMem => kib(m.max_depth),
        Count::MruExists => m.exists,
        Count::MruNew => m.new,
        Count::MruRecycleOld => m.recycle_old,
        Count::MruRecycleFull => m.recycle_full,
        Count::MruNone => m.none,
        Count::MruOldestAge => m.oldest_age_s,
        Count::AuthReset => x.keys.since_reset_s,
        Count::AuthKeys => x.keys.keys,
        Count::AuthFreeK => x.keys.free,
        Count::AuthKLookups => a.lookups,
        Count::AuthKNotFound => a.not_found,
        Count::AuthEncrypts => a.digest_signed + a.cmac_signed,
        Count::AuthDigestEncrypts => a.digest_signed,
        Count::AuthCmacEncrypts => a.cmac_signed,
        Count::AuthDecrypts => a.digest_checked + a.cmac_checked,
        Count::AuthDigestDecrypts => a.digest_checked,
        Count::AuthDigestFails => a.digest_failed,
        Count::AuthCmacDecrypts => a.cmac_checked,
        Count::AuthCmacFails => a.cmac_failed,
    }
}

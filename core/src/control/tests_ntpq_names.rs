//! The variable names ntpsec's ntpq asks for in its summary commands, one list a
//! command. Pure data with no imports, so that the interop tests can include this
//! same file (tests/common/mode6.rs does, by `#[path]`) and compare slewd and ntpd
//! on exactly the names the unit tests check.
#![allow(dead_code)]

/// ntpsec's ntpq `sysinfo`.
pub const SYSINFO: &[&str] = &[
    "peeradr",
    "peermode",
    "leap",
    "stratum",
    "precision",
    "rootdelay",
    "rootdisp",
    "rootdist",
    "refid",
    "reftime",
    "sys_jitter",
    "clk_jitter",
    "clk_wander",
    "authdelay",
];
/// ntpsec's ntpq `kerninfo`.
pub const KERNINFO: &[&str] = &[
    "koffset",
    "kfreq",
    "kmaxerr",
    "kesterr",
    "kstflags",
    "ktimeconst",
    "kprecis",
    "kfreqtol",
    "kppsfreq",
    "kppsstab",
    "kppsjitter",
    "kppscalibdur",
    "kppscalibs",
    "kppsjitexc",
    "kppsstbexc",
    "kppscaliberrs",
];
/// ntpsec's ntpq `sysstats` (its `_r` twins are [`SYSSTATS_RECENT`]).
pub const SYSSTATS: &[&str] = &[
    "ss_uptime",
    "ss_numctlreq",
    "ss_reset",
    "ss_received",
    "ss_thisver",
    "ss_oldver",
    "ss_ver1",
    "ss_ver1client",
    "ss_ver1zero",
    "ss_ver1symm",
    "ss_badformat",
    "ss_badauth",
    "ss_declined",
    "ss_restricted",
    "ss_limited",
    "ss_kodsent",
    "ss_processed",
];
/// ntpsec's ntpq `monstats`.
pub const MONSTATS: &[&str] = &[
    "mru_enabled",
    "mru_hashslots",
    "mru_depth",
    "mru_deepest",
    "mru_maxdepth",
    "mru_mindepth",
    "mru_maxage",
    "mru_minage",
    "mru_mem",
    "mru_maxmem",
    "mru_exists",
    "mru_new",
    "mru_recycleold",
    "mru_recyclefull",
    "mru_none",
    "mru_oldest_age",
];
/// ntpsec's ntpq `authinfo`.
pub const AUTHINFO: &[&str] = &[
    "authreset",
    "authkeys",
    "authfreek",
    "authklookups",
    "authknotfound",
    "authencrypts",
    "authdigestencrypts",
    "authcmacencrypts",
    "authdecrypts",
    "authdigestdecrypts",
    "authdigestfails",
    "authcmacdecrypts",
    "authcmacfails",
];
/// ntpsec's ntpq `iostats`.
pub const IOSTATS: &[&str] = &[
    "iostats_reset",
    "total_rbuf",
    "free_rbuf",
    "used_rbuf",
    "rbuf_lowater",
    "io_dropped",
    "io_ignored",
    "io_received",
    "io_sent",
    "io_sendfailed",
    "io_wakeups",
    "io_goodwakeups",
];
/// The `_r` twins of [`SYSSTATS`] that ntpq also asks in `sysstats`.
pub const SYSSTATS_RECENT: &[&str] = &[
    "ss_reset_r",
    "ss_received_r",
    "ss_thisver_r",
    "ss_oldver_r",
    "ss_ver1_r",
    "ss_ver1client_r",
    "ss_ver1zero_r",
    "ss_ver1symm_r",
    "ss_badformat_r",
    "ss_badauth_r",
    "ss_declined_r",
    "ss_restricted_r",
    "ss_limited_r",
    "ss_kodsent_r",
    "ss_processed_r",
];

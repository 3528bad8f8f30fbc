//! From a parsed ntp.conf and the command line to what the daemon runs with.
//!
//! The parser (`config`) knows the whole ntp.conf dialect; this module decides what the
//! daemon honours today. Anything in the file that the daemon cannot honour yet is an
//! error pointing at its line, never a silent skip: an admin who wrote `restrict …
//! noserve` must not get a server that serves.
//!
//! | module | lowers |
//! |---|---|
//! | `mod.rs` | sources, discipline, clock, listen addresses: [`Settings`] |
//! | [`access`] | `restrict`, `discard`, `keys`, `trustedkey`: [`access::Hardening`] |
//! | [`stats`] | `statsdir`, `statistics`, `filegen` |
//! | [`nts`] | `nts …` and `server … nts` |
//! | [`listen`] | `interface` rules into the addresses to serve on |
//!
//! The pass is pure: what it must know of the host (interface addresses, `restrict`
//! names) it asks of the [`HostLookup`] it is given.

pub mod access;
mod host;
pub mod listen;
pub mod nts;
pub mod stats;

pub use host::{FixedHost, HostLookup};

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use slew_core::discipline::{DisciplineConfig, StepMode};
use slew_core::node::NodeConfig;
use slew_core::peer::SourceConfig;
use slew_core::select::SelectConfig;
use slew_core::PollInterval;

use crate::config::{self, AddressFamily, Config, ConfigWarning, Host, Location, SourceKind};

/// ntpd's LOCAL driver stratum when no `fudge` sets one.
pub const LOCAL_DEFAULT_STRATUM: u8 = 5;

/// The NTP port.
pub const NTP_PORT: u16 = 123;

/// The local clock as a reference: ntp.conf's `server 127.127.1.0` with its `fudge`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalClock {
    /// The stratum the local clock claims (`fudge 127.127.1.0 stratum N`).
    pub stratum: u8,
}

/// One upstream source as configured, before name resolution.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceSpec {
    /// `server` or `pool`.
    pub kind: SourceKind,
    /// Address or DNS name.
    pub host: Host,
    /// UDP port (`port N`, slew's extension; 123 otherwise).
    pub port: u16,
    /// `-4`/`-6`.
    pub family: Option<AddressFamily>,
    /// Poll bounds and flags; its `addr` is filled in at resolution.
    pub options: SourceConfig,
    /// Where it was configured.
    pub at: Location,
}

impl SourceSpec {
    /// The name as an admin wrote it, with the port when it is not 123.
    pub fn display_name(&self) -> String {
        let host = match &self.host {
            Host::Ip(ip) => ip.to_string(),
            Host::Name(n) => n.clone(),
        };
        if self.port == NTP_PORT {
            host
        } else {
            format!("{host} port {}", self.port)
        }
    }
}

/// Which clock the daemon disciplines.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum ClockKind {
    /// The kernel's clock (CAP_SYS_TIME).
    #[default]
    Kernel,
    /// Measure and report, never adjust.
    Observe,
    /// An in-process software clock, started `offset_s` off, its oscillator
    /// `frequency_error_ppm` fast.
    Virtual {
        /// Starting offset from the system clock, seconds.
        offset_s: f64,
        /// Oscillator error, ppm.
        frequency_error_ppm: f64,
    },
}

/// Command-line settings that shape the configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `--listen`: replaces the default port-123 wildcards.
    pub listen: Vec<SocketAddr>,
    /// `-g`: allow one correction beyond the panic threshold.
    pub allow_big_first: bool,
    /// `-x`: never step.
    pub slew_only: bool,
    /// `-q`: set the time once and exit.
    pub once: bool,
    /// `--clock`.
    pub clock: ClockKind,
}

/// What the daemon runs with, distilled from ntp.conf and the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Addresses to serve on.
    pub listen: Vec<SocketAddr>,
    /// True when `listen` came from `--listen`: every address must then be bound.
    /// From ntp.conf (the default wildcards, `interface` rules), a wildcard of a
    /// family the host lacks is left out with a log line, as ntpd does.
    pub listen_explicit: bool,
    /// The local clock fallback, if configured.
    pub local_clock: Option<LocalClock>,
    /// Upstream sources.
    pub sources: Vec<SourceSpec>,
    /// Reference clocks (`server 127.127.20.U`, `127.127.28.U`) with their fudge.
    pub refclocks: Vec<slew_core::refclock::source::RefclockConfig>,
    /// Where the frequency estimate is kept.
    pub driftfile: Option<PathBuf>,
    /// Where log lines go instead of syslog/stderr (`logfile`).
    pub logfile: Option<PathBuf>,
    /// The leap-seconds list (`leapfile`).
    pub leapfile: Option<PathBuf>,
    /// The node: discipline, selection, local clock.
    pub node: NodeConfig,
    /// Which clock.
    pub clock: ClockKind,
    /// `-q`: set the time once and exit.
    pub once: bool,
    /// `restrict`, `discard`, keys: what the server path enforces.
    pub hardening: crate::settings::access::Hardening,
    /// `statistics`, `statsdir`, `filegen`.
    pub stats: crate::settings::stats::StatsSettings,
    /// `nts …`, `server … nts`.
    pub nts: crate::settings::nts::NtsSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            listen_explicit: false,
            local_clock: None,
            sources: Vec::new(),
            refclocks: Vec::new(),
            driftfile: None,
            logfile: None,
            leapfile: None,
            node: NodeConfig::default(),
            clock: ClockKind::Kernel,
            once: false,
            hardening: Default::default(),
            stats: Default::default(),
            nts: Default::default(),
        }
    }
}

/// The configuration as the daemon will run it, with the parser's warnings.
#[derive(Debug)]
pub struct Loaded {
    /// What to run.
    pub settings: Settings,
    /// Warnings to show the admin.
    pub warnings: Vec<ConfigWarning>,
}

/// Everything that stops the daemon from starting. Each kind keeps the lines it is
/// about; `Display` prints them as the admin reads them (`file:line:col: error: …`
/// and a hint).
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be read, or does not parse.
    Rejected(config::Rejected),
    /// Directives slewd cannot honour yet.
    NotHonoured(Vec<(Location, String)>),
    /// `restrict` or keys entries it cannot honour.
    Hardening(Vec<(Location, String)>),
    /// `server … key N` with a key that is not in the keys file or not trusted.
    UnusableKeys(Vec<UnusableKey>),
}

/// One `server … key N` that would have every answer refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusableKey {
    /// The `server` line.
    pub at: Location,
    /// The key id.
    pub id: u32,
    /// Why: not in the keys file, or not named by `trustedkey`.
    pub problem: KeyProblem,
}

/// Why a source's key cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem {
    /// Not in the keys file (`keys FILE`).
    NotInKeysFile,
    /// In it, but not named by `trustedkey`.
    NotTrusted,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        match self {
            Self::Rejected(r) => text = r.to_string(),
            Self::NotHonoured(lines) => {
                for (at, what) in lines {
                    text.push_str(&format!(
                        "{at}: error: slewd cannot honour {what} yet\n  hint: remove or comment out the line; README.md's status table says what works today\n"
                    ));
                }
            }
            Self::Hardening(lines) => {
                for (at, what) in lines {
                    text.push_str(&format!(
                        "{at}: error: slewd cannot honour {what}\n  hint: remove it; README.md's Hardening section says what is supported\n"
                    ));
                }
            }
            Self::UnusableKeys(keys) => {
                for k in keys {
                    let (id, problem) = (
                        k.id,
                        match k.problem {
                            KeyProblem::NotInKeysFile => "is not in the keys file (`keys FILE`)",
                            KeyProblem::NotTrusted => "is not named by `trustedkey`",
                        },
                    );
                    text.push_str(&format!(
                        "{}: error: `key {id}`: key {id} {problem}\n  hint: add it to the keys file and to `trustedkey`, as on the server\n",
                        k.at
                    ));
                }
            }
        }
        f.write_str(text.trim_end())
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Rejected(r) => Some(r),
            _ => None,
        }
    }
}

/// Parses `path` and distils the settings.
/// Interface names and `restrict` names are looked up through `host`.
pub fn load(
    path: &Path,
    overrides: &Overrides,
    host: &dyn HostLookup,
) -> Result<Loaded, LoadError> {
    let parsed = config::parse_file(path).map_err(LoadError::Rejected)?;
    let not_yet = not_honoured(&parsed.config, host);
    if !not_yet.is_empty() {
        return Err(LoadError::NotHonoured(not_yet));
    }
    let mut settings = settings_from(&parsed.config, overrides, host);
    settings.hardening =
        access::hardening_from(&parsed.config, host).map_err(LoadError::Hardening)?;
    source_keys_usable(&settings)?;
    Ok(Loaded {
        settings,
        warnings: parsed.warnings,
    })
}

/// `server … key N`: key N must be in the keys file and named by `trustedkey`, or
/// every answer would be refused.
fn source_keys_usable(settings: &Settings) -> Result<(), LoadError> {
    let mut unusable = Vec::new();
    for s in &settings.sources {
        let Some(id) = s.options.key else { continue };
        let problem = match settings.hardening.keys.iter().find(|k| k.id() == id) {
            None => KeyProblem::NotInKeysFile,
            Some(k) if !k.is_trusted() => KeyProblem::NotTrusted,
            Some(_) => continue,
        };
        unusable.push(UnusableKey {
            at: s.at.clone(),
            id,
            problem,
        });
    }
    if unusable.is_empty() {
        Ok(())
    } else {
        Err(LoadError::UnusableKeys(unusable))
    }
}

fn poll(log2: Option<u8>, default: PollInterval) -> PollInterval {
    log2.map_or(default, |l| PollInterval::from_log2(l.min(17) as i8))
}

/// The discipline's configuration: ntp.conf's `tinker` and the command line.
pub fn discipline_from(config: &Config, overrides: &Overrides) -> DisciplineConfig {
    let mut d = DisciplineConfig::default();
    if let Some(step) = config.tinker.step {
        d.step_threshold_s = step;
    }
    if let Some(stepout) = config.tinker.stepout {
        d.stepout_s = stepout;
    }
    if let Some(panic) = config.tinker.panic {
        d.panic_threshold_s = panic;
    }
    d.allow_big_first = overrides.allow_big_first;
    // The article's lesson: step once at start when far off, then only slew.
    // `-x` and `tinker step 0` never step at all (ntpd's rule for both).
    d.step_mode = if overrides.slew_only || d.step_threshold_s == 0.0 {
        StepMode::SlewOnly
    } else {
        StepMode::AtStartOnly
    };
    d
}

/// The settings for a configuration that passed [`not_honoured`].
pub fn settings_from(config: &Config, overrides: &Overrides, host: &dyn HostLookup) -> Settings {
    let listen = if overrides.listen.is_empty() {
        // Rules that cannot be honoured were refused by `not_honoured`.
        listen::listen_addrs(&config.interfaces, host).unwrap_or_else(|_| {
            vec![
                SocketAddr::from(([0, 0, 0, 0], NTP_PORT)),
                SocketAddr::from(([0u16; 8], NTP_PORT)),
            ]
        })
    } else {
        overrides.listen.clone()
    };
    let local_clock = config
        .local_clocks
        .iter()
        .find(|l| !l.options.noselect)
        .map(|l| LocalClock {
            stratum: l.stratum.unwrap_or(LOCAL_DEFAULT_STRATUM),
        });
    let sources = config
        .sources
        .iter()
        .map(|s| {
            let port = s.options.port.unwrap_or(NTP_PORT);
            let placeholder = SocketAddr::from(([0, 0, 0, 0], port));
            SourceSpec {
                kind: s.kind,
                host: s.host.clone(),
                port,
                family: s.family,
                options: SourceConfig {
                    minpoll: poll(s.options.minpoll, PollInterval::DEFAULT_MIN),
                    maxpoll: poll(s.options.maxpoll, PollInterval::DEFAULT_MAX),
                    iburst: s.options.iburst,
                    burst: s.options.burst,
                    prefer: s.options.prefer,
                    noselect: s.options.noselect,
                    key: s.options.key.map(u32::from),
                    ..SourceConfig::new(placeholder)
                },
                at: s.at.clone(),
            }
        })
        .collect();
    let mut select = SelectConfig::default();
    if let Some(n) = config.tos.minsane {
        select.min_sane = n as usize;
    }
    if let Some(n) = config.tos.minclock {
        select.min_survivors = n as usize;
    }
    if let Some(n) = config.tos.maxclock {
        select.max_combined = n as usize;
    }
    // ntpd waits 300 s without a source before orphan mode (`tos orphanwait`).
    let orphan = config.tos.orphan.map(|stratum| slew_core::node::Orphan {
        stratum,
        wait: std::time::Duration::from_secs(u64::from(config.tos.orphanwait.unwrap_or(300))),
    });
    let node = NodeConfig {
        discipline: discipline_from(config, overrides),
        select,
        local_clock_stratum: local_clock.map(|l| l.stratum),
        orphan,
        max_slew_rate_ppm: config
            .tinker
            .maxslewrate
            .unwrap_or(slew_core::node::DEFAULT_MAX_SLEW_RATE_PPM),
        ..NodeConfig::default()
    };
    Settings {
        listen,
        listen_explicit: !overrides.listen.is_empty(),
        local_clock,
        sources,
        refclocks: config.refclocks.iter().map(|r| r.config).collect(),
        driftfile: config.driftfile.as_ref().map(|d| d.value.clone()),
        logfile: config.logfile.as_ref().map(|d| d.value.clone()),
        leapfile: config.leapfile.as_ref().map(|d| d.value.clone()),
        node,
        clock: overrides.clock,
        once: overrides.once,
        hardening: Default::default(),
        stats: crate::settings::stats::settings_from(config),
        nts: crate::settings::nts::settings_from(config),
    }
}

/// Directives present in `config` that the daemon does not act on yet, with where
/// they are.
pub fn not_honoured(config: &Config, host: &dyn HostLookup) -> Vec<(Location, String)> {
    let mut out = Vec::new();
    let file = || {
        config
            .files
            .first()
            .map(|p| Location::file(p))
            .unwrap_or_else(|| Location::file(Path::new("ntp.conf")))
    };
    for s in &config.sources {
        if s.kind == SourceKind::Peer {
            out.push((
                s.at.clone(),
                "`peer` (symmetric mode); use `server`".to_string(),
            ));
        }
        if s.options.version.is_some() {
            out.push((s.at.clone(), "`version` on a source".into()));
        }
        if s.options.truechimer {
            out.push((s.at.clone(), "`true` on a source".into()));
        }
    }
    out.extend(crate::settings::stats::not_honoured(config, &file()));
    if let Err(errors) = listen::listen_addrs(&config.interfaces, host) {
        out.extend(errors);
    }
    for s in &config.system_flags {
        use crate::config::SystemFlag;
        // Honoured as written: `monitor` switches the MRU list (`ntpq -c mrulist`)
        // between every client and `limited` ones only (access.rs); the rest is
        // what slew does anyway: it never answers mode 7, never hands its
        // discipline to the kernel's PLL, and always checks MACs where keys are
        // configured.
        let already = matches!(
            (s.flag, s.enabled),
            (SystemFlag::Monitor, _)
                | (SystemFlag::Mode7, false)
                | (SystemFlag::Kernel, false)
                | (SystemFlag::Auth, true)
        );
        if !already {
            out.push((
                s.at.clone(),
                format!(
                    "`{} {:?}`",
                    if s.enabled { "enable" } else { "disable" },
                    s.flag
                )
                .to_lowercase(),
            ));
        }
    }
    let t = &config.tinker;
    for (name, set) in [
        ("allan", t.allan.is_some()),
        ("dispersion", t.dispersion.is_some()),
        ("freq", t.freq.is_some()),
        ("huffpuff", t.huffpuff.is_some()),
        ("stepback", t.stepback.is_some()),
        ("stepfwd", t.stepfwd.is_some()),
        ("tick", t.tick.is_some()),
    ] {
        if set {
            out.push((file(), format!("`tinker {name}`")));
        }
    }
    let tos = &config.tos;
    for (name, set) in [
        ("beacon", tos.beacon.is_some()),
        ("ceiling", tos.ceiling.is_some()),
        ("cohort", tos.cohort.is_some()),
        ("floor", tos.floor.is_some()),
        ("maxdist", tos.maxdist.is_some()),
        ("mindist", tos.mindist.is_some()),
        ("basedate", tos.basedate.is_some()),
    ] {
        if set {
            out.push((file(), format!("`tos {name}`")));
        }
    }
    if config.local_clocks.len() > 1 {
        if let Some(l) = config.local_clocks.get(1) {
            out.push((l.at.clone(), "a second local clock".into()));
        }
    }
    out.sort_by_key(|(at, _)| (at.path.clone(), at.line, at.column));
    out
}

#[cfg(test)]
mod tests {
    /// The loopback interface and `localhost`, nothing else.
    fn host() -> FixedHost {
        FixedHost::loopback()
    }

    use super::*;

    fn parse(text: &str) -> Config {
        config::test_config(text)
    }

    #[test]
    fn local_clock_with_fudge() {
        let c = parse("server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n");
        assert!(not_honoured(&c, &host()).is_empty());
        let s = settings_from(&c, &Overrides::default(), &host());
        assert_eq!(s.local_clock, Some(LocalClock { stratum: 10 }));
        assert_eq!(s.node.local_clock_stratum, Some(10));
        assert_eq!(s.listen.len(), 2, "IPv4 and IPv6 wildcards on port 123");
    }

    #[test]
    fn local_clock_default_stratum_is_ntpds() {
        let c = parse("server 127.127.1.0\n");
        let o = Overrides {
            listen: vec!["127.0.0.1:12300".parse().unwrap()],
            ..Overrides::default()
        };
        let s = settings_from(&c, &o, &host());
        assert_eq!(s.local_clock, Some(LocalClock { stratum: 5 }));
        assert_eq!(s.listen, vec!["127.0.0.1:12300".parse().unwrap()]);
    }

    #[test]
    fn sources_with_options_and_port() {
        let c = parse(
            "server 127.0.0.1 port 12345 iburst prefer minpoll 4 maxpoll 6\n\
             pool pool.example.org iburst\ndriftfile /var/lib/ntp/drift\n",
        );
        assert!(
            not_honoured(&c, &host()).is_empty(),
            "{:?}",
            not_honoured(&c, &host())
        );
        let s = settings_from(&c, &Overrides::default(), &host());
        assert_eq!(s.sources.len(), 2);
        let first = &s.sources[0];
        assert_eq!(first.port, 12345);
        assert!(first.options.iburst && first.options.prefer);
        assert_eq!(first.options.minpoll.log2(), 4);
        assert_eq!(first.options.maxpoll.log2(), 6);
        assert_eq!(first.display_name(), "127.0.0.1 port 12345");
        assert_eq!(s.sources[1].kind, SourceKind::Pool);
        assert_eq!(s.driftfile, Some(PathBuf::from("/var/lib/ntp/drift")));
    }

    #[test]
    fn step_policy_from_flags_and_tinker() {
        let c = parse("tinker step 0.5 stepout 60 panic 0\n");
        let d = discipline_from(&c, &Overrides::default());
        assert_eq!(d.step_mode, StepMode::AtStartOnly, "the article's default");
        assert_eq!(d.step_threshold_s, 0.5);
        assert_eq!(d.stepout_s, 60.0);
        assert_eq!(d.panic_threshold_s, 0.0);
        let x = Overrides {
            slew_only: true,
            allow_big_first: true,
            ..Overrides::default()
        };
        let d = discipline_from(&c, &x);
        assert_eq!(d.step_mode, StepMode::SlewOnly);
        assert!(d.allow_big_first);
        let d = discipline_from(&parse("tinker step 0\n"), &Overrides::default());
        assert_eq!(d.step_mode, StepMode::SlewOnly, "tinker step 0 never steps");
    }

    #[test]
    fn maxslewrate_sets_the_fastest_slew() {
        let s = settings_from(
            &parse("tinker maxslewrate 500\n"),
            &Overrides::default(),
            &host(),
        );
        assert_eq!(s.node.max_slew_rate_ppm, 500.0);
        let s = settings_from(&parse(""), &Overrides::default(), &host());
        assert_eq!(
            s.node.max_slew_rate_ppm,
            slew_core::node::DEFAULT_MAX_SLEW_RATE_PPM
        );
        // Out of range: refused at parse time, as every tinker typo is.
        let err = crate::config::parse_str(
            "tinker maxslewrate 500000\n",
            std::path::Path::new("t.conf"),
        );
        assert!(err.is_err(), "{err:?}");
    }

    #[test]
    fn source_key_needs_a_trusted_key() {
        let dir = std::env::temp_dir().join(format!("slew-settings-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let keys = dir.join("ntp.keys");
        std::fs::write(
            &keys,
            "1 MD5 secret\n2 SHA1 0123456789abcdef0123456789abcdef01234567\n",
        )
        .unwrap();
        let conf = dir.join("ntp.conf");
        let load_with = |extra: &str| {
            std::fs::write(
                &conf,
                format!("keys {}\ntrustedkey 1\n{extra}", keys.display()),
            )
            .unwrap();
            load(&conf, &Overrides::default(), &host())
        };
        let ok = load_with("server 127.0.0.1 key 1\n").unwrap();
        assert_eq!(ok.settings.sources[0].options.key, Some(1));
        let e = load_with("server 127.0.0.1 key 2\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":3:") && e.contains("not named by `trustedkey`"),
            "{e}"
        );
        let e = load_with("server 127.0.0.1 key 9\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("key 9 is not in the keys file"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unhonoured_directives_point_at_their_line() {
        let c = parse("server 127.127.1.0\npeer 127.0.0.2\n");
        let n = not_honoured(&c, &host());
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].0.line, 2);
        assert!(n[0].1.contains("peer"));
        let c = parse("server 127.127.1.0\nleapfile /etc/ntp.leapseconds\n");
        assert!(not_honoured(&c, &host()).is_empty(), "leapfile is honoured");
        assert_eq!(
            settings_from(&c, &Overrides::default(), &host()).leapfile,
            Some(PathBuf::from("/etc/ntp.leapseconds"))
        );
        // RHEL 7's stock `disable monitor` and `enable monitor` (the MRU list) are
        // honoured, as is what slew does anyway; what slew cannot do is refused at
        // its line.
        let c = parse("disable monitor\ndisable kernel\nenable auth\ndisable mode7\n");
        assert!(
            not_honoured(&c, &host()).is_empty(),
            "{:?}",
            not_honoured(&c, &host())
        );
        assert!(
            !crate::settings::access::hardening_from(&c, &host())
                .unwrap()
                .monitor
        );
        let c = parse("server 127.127.1.0\nenable monitor\n");
        assert!(not_honoured(&c, &host()).is_empty());
        assert!(
            crate::settings::access::hardening_from(&c, &host())
                .unwrap()
                .monitor
        );
        let n = not_honoured(&parse("server 127.127.1.0\nenable kernel\n"), &host());
        assert_eq!((n.len(), n[0].0.line), (1, 2));
        assert_eq!(n[0].1, "`enable kernel`");
    }

    #[test]
    fn load_errors_are_typed_and_keep_their_lines() {
        let dir = std::env::temp_dir().join(format!("slew-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("ntp.conf");
        let load_text = |text: &str| {
            std::fs::write(&conf, text).unwrap();
            load(&conf, &Overrides::default(), &host())
        };
        match load_text("server 127.0.0.1 key 7\n") {
            Err(LoadError::UnusableKeys(keys)) => {
                assert_eq!(keys.len(), 1);
                assert_eq!((keys[0].id, keys[0].at.line), (7, 1));
                assert_eq!(keys[0].problem, KeyProblem::NotInKeysFile);
            }
            other => panic!("{other:?}"),
        }
        let e = load_text("server 127.0.0.1\nenable kernel\n").unwrap_err();
        assert!(
            matches!(&e, LoadError::NotHonoured(l) if l[0].0.line == 2),
            "{e:?}"
        );
        assert!(e.to_string().contains(":2:"), "{e}");
        let e = load_text("servr 127.0.0.1\n").unwrap_err();
        assert!(matches!(e, LoadError::Rejected(_)), "{e:?}");
        assert!(std::error::Error::source(&e).is_some());
        std::fs::remove_dir_all(&dir).ok();
    }
}

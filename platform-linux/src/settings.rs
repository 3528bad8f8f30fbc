//! From a parsed ntp.conf and the command line to what the daemon runs with.
//!
//! The parser (`config`) knows the whole ntp.conf dialect; this module decides what the
//! daemon honours today. Anything in the file that the daemon cannot honour yet is an
//! error pointing at its line, never a silent skip: an admin who wrote `restrict …
//! noserve` must not get a server that serves.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use crate::config::{self, Config, ConfigWarning, Location};
use crate::daemon::{LocalClock, Settings};

/// ntpd's LOCAL driver stratum when no `fudge` sets one.
pub const LOCAL_DEFAULT_STRATUM: u8 = 5;

/// The configuration as the daemon will run it, with the parser's warnings.
#[derive(Debug)]
pub struct Loaded {
    /// What to run.
    pub settings: Settings,
    /// Warnings to show the admin.
    pub warnings: Vec<ConfigWarning>,
}

/// Everything that stops the daemon from starting, printable as-is.
#[derive(Debug)]
pub struct LoadError(String);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.trim_end())
    }
}

impl std::error::Error for LoadError {}

/// Parses `path` and distils the settings; `listen` from the command line replaces
/// the default of port 123 on the IPv4 and IPv6 wildcards.
pub fn load(path: &Path, listen: &[SocketAddr]) -> Result<Loaded, LoadError> {
    let parsed = config::parse_file(path).map_err(|rejected| LoadError(rejected.to_string()))?;
    let not_yet = not_honoured(&parsed.config);
    if !not_yet.is_empty() {
        let mut text = String::new();
        for (at, what) in not_yet {
            text.push_str(&format!(
                "{at}: error: slewd cannot honour {what} yet\n  hint: remove or comment out the line; README.md's status table says what works today\n"
            ));
        }
        return Err(LoadError(text));
    }
    let mut settings = settings_from(&parsed.config, listen);
    settings.hardening = crate::access::hardening_from(&parsed.config).map_err(|errors| {
        let mut text = String::new();
        for (at, what) in errors {
            text.push_str(&format!(
                "{at}: error: slewd cannot honour {what}\n  hint: remove it; README.md's Hardening section says what is supported\n"
            ));
        }
        LoadError(text)
    })?;
    Ok(Loaded {
        settings,
        warnings: parsed.warnings,
    })
}

/// The settings for a configuration that passed [`not_honoured`].
pub fn settings_from(config: &Config, listen: &[SocketAddr]) -> Settings {
    let listen = if listen.is_empty() {
        vec![
            SocketAddr::from(([0, 0, 0, 0], 123)),
            SocketAddr::from(([0u16; 8], 123)),
        ]
    } else {
        listen.to_vec()
    };
    let local_clock = config
        .local_clocks
        .iter()
        .find(|l| !l.options.noselect)
        .map(|l| LocalClock {
            stratum: l.stratum.unwrap_or(LOCAL_DEFAULT_STRATUM),
        });
    Settings {
        listen,
        local_clock,
        hardening: Default::default(),
    }
}

/// Directives present in `config` that the daemon does not act on yet, with where
/// they are.
pub fn not_honoured(config: &Config) -> Vec<(Location, String)> {
    let mut out = Vec::new();
    let file = || {
        config
            .files
            .first()
            .map(|p| Location::file(p))
            .unwrap_or_else(|| Location::file(Path::new("ntp.conf")))
    };
    for s in &config.sources {
        out.push((
            s.at.clone(),
            format!("`{}` (following remote servers)", s.kind.name()),
        ));
    }
    for (name, located) in [
        ("driftfile", config.driftfile.as_ref().map(|d| &d.at)),
        ("leapfile", config.leapfile.as_ref().map(|d| &d.at)),
        ("logfile", config.logfile.as_ref().map(|d| &d.at)),
        ("statsdir", config.statsdir.as_ref().map(|d| &d.at)),
    ] {
        if let Some(at) = located {
            out.push((at.clone(), format!("`{name}`")));
        }
    }
    if !config.statistics.is_empty() {
        out.push((file(), "`statistics`".into()));
    }
    for f in &config.filegens {
        out.push((f.at.clone(), "`filegen`".into()));
    }
    for i in &config.interfaces {
        out.push((i.at.clone(), "`interface` (use --listen)".into()));
    }
    for s in &config.system_flags {
        out.push((s.at.clone(), "`enable`/`disable`".into()));
    }
    if config.tinker != Default::default() {
        out.push((file(), "`tinker`".into()));
    }
    if config.tos != Default::default() {
        out.push((file(), "`tos`".into()));
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
    use super::*;

    fn parse(text: &str) -> Config {
        config::parse_str(text, Path::new("/etc/ntp.conf"))
            .expect("parses")
            .config
    }

    #[test]
    fn local_clock_with_fudge() {
        let c = parse("server 127.127.1.0\nfudge 127.127.1.0 stratum 10\n");
        assert!(not_honoured(&c).is_empty());
        let s = settings_from(&c, &[]);
        assert_eq!(s.local_clock, Some(LocalClock { stratum: 10 }));
        assert_eq!(s.listen.len(), 2, "IPv4 and IPv6 wildcards on port 123");
    }

    #[test]
    fn local_clock_default_stratum_is_ntpds() {
        let c = parse("server 127.127.1.0\n");
        let s = settings_from(&c, &["127.0.0.1:12300".parse().unwrap()]);
        assert_eq!(s.local_clock, Some(LocalClock { stratum: 5 }));
        assert_eq!(s.listen, vec!["127.0.0.1:12300".parse().unwrap()]);
    }

    #[test]
    fn unhonoured_directives_point_at_their_line() {
        let c = parse("server 127.127.1.0\nstatsdir /var/log/ntpstats/\n");
        let n = not_honoured(&c);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].0.line, 2);
        assert!(n[0].1.contains("statsdir"));
    }
}

//! The statistics files' settings (`statsdir`, `statistics`, `filegen`), lowered
//! from ntp.conf; the writer is [`crate::daemon::stats`], whose docs give the
//! formats.

use std::path::PathBuf;

use crate::config::{Config, FilegenType, Location, StatsKind};

/// Where statistics go without a `statsdir` line (Debian's and RHEL's ntp.conf use
/// this directory).
pub const DEFAULT_STATSDIR: &str = "/var/log/ntpstats";

/// How a set is split into files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// One file per UTC day, `.YYYYMMDD`.
    Day,
    /// One file, no suffix.
    None,
}

/// One file generation set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileGen {
    /// The file name inside `statsdir`, without suffix.
    pub file: String,
    /// The split.
    pub rotation: Rotation,
    /// Keep `file` as a link to the current file.
    pub link: bool,
    /// Written at all.
    pub enabled: bool,
}

impl FileGen {
    pub(crate) fn default_for(name: &str) -> Self {
        Self {
            file: name.to_string(),
            rotation: Rotation::Day,
            link: true,
            enabled: false,
        }
    }
}

/// `statistics`, `statsdir`, `filegen` as the daemon runs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsSettings {
    /// `statsdir`.
    pub dir: PathBuf,
    /// `loopstats`.
    pub loopstats: FileGen,
    /// `peerstats`.
    pub peerstats: FileGen,
    /// `clockstats`.
    pub clockstats: FileGen,
}

impl Default for StatsSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from(DEFAULT_STATSDIR),
            loopstats: FileGen::default_for("loopstats"),
            peerstats: FileGen::default_for("peerstats"),
            clockstats: FileGen::default_for("clockstats"),
        }
    }
}

impl StatsSettings {
    /// Any set enabled.
    pub fn any(&self) -> bool {
        self.loopstats.enabled || self.peerstats.enabled || self.clockstats.enabled
    }
}

/// The statistics settings of a configuration.
pub fn settings_from(config: &Config) -> StatsSettings {
    let mut s = StatsSettings::default();
    if let Some(d) = &config.statsdir {
        s.dir = d.value.clone();
    }
    s.loopstats.enabled = config.statistics.contains(&StatsKind::Loopstats);
    s.peerstats.enabled = config.statistics.contains(&StatsKind::Peerstats);
    s.clockstats.enabled = config.statistics.contains(&StatsKind::Clockstats);
    for g in &config.filegens {
        let gen = match g.kind {
            StatsKind::Loopstats => &mut s.loopstats,
            StatsKind::Peerstats => &mut s.peerstats,
            StatsKind::Clockstats => &mut s.clockstats,
            _ => continue,
        };
        if let Some(f) = &g.file {
            gen.file = f.clone();
        }
        if let Some(t) = g.file_type {
            gen.rotation = if t == FilegenType::None {
                Rotation::None
            } else {
                Rotation::Day
            };
        }
        if let Some(l) = g.link {
            gen.link = l;
        }
        if let Some(e) = g.enabled {
            gen.enabled = e;
        }
    }
    s
}

/// What of `statistics`/`filegen` slewd cannot honour, by line.
pub fn not_honoured(config: &Config, file: &Location) -> Vec<(Location, String)> {
    let writable = |k: StatsKind| {
        matches!(
            k,
            StatsKind::Loopstats
                | StatsKind::Peerstats
                | StatsKind::Clockstats
                | StatsKind::Cryptostats
        )
    };
    let mut out = Vec::new();
    for k in &config.statistics {
        if !writable(*k) {
            out.push((
                file.clone(),
                format!(
                    "`statistics {}` (loopstats, peerstats and clockstats are written)",
                    k.name()
                ),
            ));
        }
    }
    for g in &config.filegens {
        if !writable(g.kind) {
            out.push((g.at.clone(), format!("`filegen {}`", g.kind.name())));
        }
        if g.file
            .as_deref()
            .is_some_and(|f| f.contains('/') || f.is_empty())
        {
            out.push((
                g.at.clone(),
                "a `filegen … file` name with a `/` (it is a name inside statsdir)".into(),
            ));
        }
        if g.file_type
            .is_some_and(|t| !matches!(t, FilegenType::Day | FilegenType::None))
        {
            out.push((
                g.at.clone(),
                "a `filegen … type` other than day or none".into(),
            ));
        }
    }
    out
}

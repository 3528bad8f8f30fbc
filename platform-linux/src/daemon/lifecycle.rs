//! The daemon's life cycle around the loop: the driftfile, `-q`'s one correction,
//! SIGHUP reloads and the exit.

use slew_core::clock::Error as _;
use slew_core::discipline::State;
use slew_core::peer::SourceId;
use slew_core::WideDuration;

use slew_core::endpoint::Correction;

use super::seams::{era_note, era_resolved};

use super::{Assoc, Daemon, Exit};
use crate::os::drift;
use crate::os::time::monotonic_now;
use crate::settings::{Settings, SourceSpec};
use slew_core::Clock;

impl<C: Clock> Daemon<C> {
    pub(super) fn write_drift(&mut self) {
        let Some(path) = self.settings.driftfile.clone() else {
            return;
        };
        if self.ep.node().system().state != State::Sync {
            return;
        }
        let ppm = self.ep.node().frequency_ppm();
        match drift::write(&path, ppm) {
            Ok(()) => log::debug!("wrote {ppm:+.3} ppm to {}", path.display()),
            Err(e) => log::warn!("cannot write driftfile {}: {e}", path.display()),
        }
    }

    /// `-q` (ntpd's one-shot, `ntpd -gq`): once the endpoint's one-shot mode has
    /// decided its one correction (slew-core's step-or-slew rule, with the
    /// discipline's step threshold and `-x`; beyond the panic threshold only with
    /// `-g`, without, the node's panic event ends the run with exit 1 before
    /// anything is decided), make it on the real clock, say truthfully what was
    /// done, and finish. A slew is handed to the clock's own single slew as
    /// `ntpd -q` hands it to adjtime.
    pub(super) fn finish_once(&mut self) -> Option<Exit> {
        let mut asked = self.once_done.take()?;
        // A full-width clock whole NTP eras off: the node saw only the remainder.
        let d = match asked {
            Correction::Step(d) => d,
            Correction::Slew(d) => WideDuration::from(d),
        };
        let resolved = era_resolved(&mut self.clock, d);
        if resolved != d {
            if !self.era_allowed() {
                self.log_era_panic(resolved);
                return Some(Exit::Panic);
            }
            log::warn!("-q: {}", era_note(d, resolved));
            asked = Correction::Step(resolved);
        }
        let (result, done) = match asked {
            Correction::Step(d) => (self.clock.step(d), format!("stepped the clock by {d}")),
            Correction::Slew(d) => (
                self.clock.slew(d),
                format!("slewing the clock by {}", WideDuration::from(d)),
            ),
        };
        match result {
            Ok(()) => log::warn!("-q: {done}"),
            Err(e) => {
                log::error!(
                    "-q: cannot adjust the {} clock: {:?}",
                    self.clock.name(),
                    e.kind()
                );
                return Some(Exit::Panic);
            }
        }
        if let Some(offset_s) = self.clock.offset_from_system_s() {
            log::info!(
                "-q: the {} clock is now {offset_s:+.6} s from the system clock",
                self.clock.name()
            );
        }
        Some(Exit::Clean)
    }

    /// May a correction beyond the panic threshold be made: `-g`, or no threshold.
    pub(super) fn era_allowed(&self) -> bool {
        let d = &self.settings.node.discipline;
        d.allow_big_first || d.panic_threshold_s <= 0.0
    }

    fn log_era_panic(&self, step: WideDuration) {
        log::error!(
            "the {} clock is a whole number of NTP eras (2^32 s) from the servers' time: it needs a step of {step}, beyond the panic threshold ({} s): not touching the clock. Set the time first (slewd -q -g, or slewctl date -b) or start with -g to allow it",
            self.clock.name(),
            self.settings.node.discipline.panic_threshold_s
        );
    }

    /// Once the node follows a system peer, a clock kept at full width must read a
    /// time in the servers' era window: the node measures era-less timestamps and
    /// cannot see a clock off by whole eras (2^32 s, 136 years; a kernel clock 2^35 s
    /// ahead syncs to the right NTP timestamp in the year 3115). Step it by those
    /// eras, once, with `-g`; without, exit as the panic check does. The step leaves
    /// every NTP timestamp as it was, so the node's state stays valid.
    pub(super) fn check_era(&mut self) {
        if self.era_checked {
            return;
        }
        // One clock read on the common path; the node is asked only when it matters.
        let eras = era_resolved(&mut self.clock, WideDuration::ZERO);
        if eras == WideDuration::ZERO || self.ep.node().system().system_peer.is_none() {
            return;
        }
        self.era_checked = true;
        if !self.era_allowed() {
            self.log_era_panic(eras);
            self.exit = Some(Exit::Panic);
            return;
        }
        match self.clock.step(eras) {
            Ok(()) => log::warn!(
                "the {} clock was a whole number of NTP eras (2^32 s) from the servers' time: stepped the clock by {eras}",
                self.clock.name()
            ),
            Err(e) => log::error!(
                "cannot step the {} clock by {eras}: {:?}",
                self.clock.name(),
                e.kind()
            ),
        }
    }

    /// At exit: counters and the driftfile, and the slew in progress taken back: the
    /// clock keeps the discipline's frequency (within the kernel's ±500 ppm, so the
    /// kernel clock's tick is nominal again), not a rate meant for seconds.
    pub fn shutdown(&mut self) {
        // `-q` never let the node touch the clock.
        if !self.settings.once && self.ep.node().system().updates > 0 {
            let ppm = self.ep.node().frequency_ppm();
            if let Err(e) = self.clock.set_frequency_ppm(ppm) {
                log::warn!("cannot leave the clock at {ppm:+.3} ppm: {:?}", e.kind());
            }
        }
        log::info!(
            "T1 from kernel transmit stamps for {} requests",
            self.tx_pending.used
        );
        self.server.log_stats();
        self.monitor.log_stats();
        self.write_drift();
        self.stop_nts_server();
    }

    /// SIGHUP: apply a new configuration, keeping the associations whose lines did
    /// not change. What cannot change without a restart is logged.
    pub fn reload(&mut self, mut new: Settings) {
        let now = monotonic_now();
        // Sources come and go: the server threads' mode 6 snapshot is taken again
        // on the next turn, not at the node's next poll.
        self.view_dirty = true;
        self.reload_nts_server(&mut new.nts);
        if new.listen != self.settings.listen {
            log::warn!("reload: listen addresses change only on restart");
        }
        if restart_needed(&self.settings, &new) {
            log::warn!("reload: tinker/tos/local clock changes apply only on restart");
        }
        if new.refclocks != self.settings.refclocks {
            log::warn!("reload: reference clock (127.127.T.U) changes apply only on restart");
        }
        let same = |a: &SourceSpec, b: &SourceSpec| {
            a.host == b.host
                && a.port == b.port
                && a.kind == b.kind
                && a.options == b.options
                && a.family == b.family
        };
        // Map each old association to its spec in the new configuration.
        let mut kept = Vec::new();
        for a in std::mem::take(&mut self.assocs) {
            let old_spec = self.settings.sources.get(a.spec).cloned();
            match old_spec.and_then(|o| new.sources.iter().position(|n| same(&o, n))) {
                Some(new_idx) => kept.push(Assoc { spec: new_idx, ..a }),
                None => {
                    log::info!("reload: dropping {}", a.addr);
                    self.ep.node_mut().remove_source(a.id);
                }
            }
        }
        let kept_specs: Vec<usize> = kept.iter().map(|a| a.spec).collect();
        self.assocs = kept;
        let node_cfg = self.settings.node.clone();
        let refclocks = std::mem::take(&mut self.settings.refclocks);
        self.settings = Settings {
            node: node_cfg,
            // The running refclocks stay as started (their drivers and node slots).
            refclocks,
            listen: self.settings.listen.clone(),
            listen_explicit: self.settings.listen_explicit,
            ..new
        };
        // restrict, discard and the keys apply to the server path at once, server
        // threads included (the rate limiter's memory starts afresh).
        self.server.set_hardening(&self.settings.hardening);
        // Kept associations take the keys file as it is now (a secret may change).
        let kept_keys: Vec<(SourceId, Option<u32>, String)> = self
            .assocs
            .iter()
            .filter_map(|a| {
                let spec = self.settings.sources.get(a.spec)?;
                Some((a.id, spec.options.key, spec.display_name()))
            })
            .collect();
        for (id, key, name) in kept_keys {
            self.give_key(id, key, &name);
        }
        self.stats = crate::daemon::stats::Recorder::new(&self.settings.stats);
        self.unresolved = (0..self.settings.sources.len())
            .filter(|i| !kept_specs.contains(i))
            .collect();
        self.next_resolve = now;
        self.resolve_pending(now);
        self.reload_leapfile();
        log::info!(
            "reload: {} association(s) kept, {} source line(s) added",
            kept_specs.len(),
            self.settings.sources.len().saturating_sub(kept_specs.len())
        );
    }
}

/// True when `new` changes what only a restart applies: the discipline's thresholds
/// and mode, selection, the local clock.
fn restart_needed(old: &Settings, new: &Settings) -> bool {
    let (a, b) = (&old.node.discipline, &new.node.discipline);
    a.step_threshold_s != b.step_threshold_s
        || a.stepout_s != b.stepout_s
        || a.panic_threshold_s != b.panic_threshold_s
        || a.step_mode != b.step_mode
        || old.node.select != new.node.select
        || old.node.local_clock_stratum != new.node.local_clock_stratum
}

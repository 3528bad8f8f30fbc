//! The daemon's life cycle around the loop: the driftfile, `-q`'s one correction,
//! SIGHUP reloads and the exit.

use slew_core::clock::Error as _;
use slew_core::discipline::State;
use slew_core::peer::SourceId;
use slew_core::NtpDuration;

use super::{Assoc, Daemon, Exit};
use crate::clock::DaemonClock;
use crate::drift;
use crate::settings::{Settings, SourceSpec};
use crate::time::monotonic_now;

impl<C: DaemonClock> Daemon<C> {
    pub(super) fn write_drift(&mut self) {
        let Some(path) = self.settings.driftfile.clone() else {
            return;
        };
        if self.node.system().state != State::Sync {
            return;
        }
        let ppm = self.node.frequency_ppm();
        match drift::write(&path, ppm) {
            Ok(()) => log::debug!("wrote {ppm:+.3} ppm to {}", path.display()),
            Err(e) => log::warn!("cannot write driftfile {}: {e}", path.display()),
        }
    }

    /// `-q`: once a system peer is chosen, make the one correction and finish.
    pub(super) fn finish_once(&mut self) -> Option<Exit> {
        let sys = self.node.system();
        sys.system_peer?;
        let offset_s = sys.offset_s;
        let threshold = self.settings.node.discipline.step_threshold_s;
        let step = threshold > 0.0
            && offset_s.abs() > threshold
            && self.settings.node.discipline.step_mode != slew_core::discipline::StepMode::SlewOnly;
        let d = NtpDuration::from_seconds_f64(offset_s);
        let result = if step {
            self.clock.step(d)
        } else {
            self.clock.slew(d)
        };
        match result {
            Ok(()) => log::info!(
                "time {} {offset_s:+.6} s",
                if step { "set" } else { "slew" }
            ),
            Err(e) => log::error!(
                "cannot adjust the {} clock: {:?}",
                self.clock.name(),
                e.kind()
            ),
        }
        Some(Exit::Clean)
    }

    /// At exit: counters and the driftfile, and the slew in progress taken back: the
    /// clock keeps the discipline's frequency (within the kernel's ±500 ppm, so the
    /// kernel clock's tick is nominal again), not a rate meant for seconds.
    pub fn shutdown(&mut self) {
        // `-q` never let the node touch the clock.
        if !self.settings.once && self.node.system().updates > 0 {
            let ppm = self.node.frequency_ppm();
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
    }

    /// SIGHUP: apply a new configuration, keeping the associations whose lines did
    /// not change. What cannot change without a restart is logged.
    pub fn reload(&mut self, new: Settings) {
        let now = monotonic_now();
        if new.listen != self.settings.listen {
            log::warn!("reload: listen addresses change only on restart");
        }
        if restart_needed(&self.settings, &new) {
            log::warn!("reload: tinker/tos/local clock changes apply only on restart");
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
                    self.node.remove_source(a.id);
                }
            }
        }
        let kept_specs: Vec<usize> = kept.iter().map(|a| a.spec).collect();
        self.assocs = kept;
        let node_cfg = self.settings.node.clone();
        self.settings = Settings {
            node: node_cfg,
            listen: self.settings.listen.clone(),
            ..new
        };
        // restrict, discard and the keys apply to the server path at once (the rate
        // limiter's memory starts afresh); extra server threads keep theirs until a
        // restart.
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
        self.stats = crate::stats::Recorder::new(&self.settings.stats);
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

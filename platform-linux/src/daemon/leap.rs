//! The leapfile, read by the port and handed to the endpoint, which decides what
//! to announce and when to arm the clock.

use slew_core::endpoint::LeapSchedule;

use super::Daemon;
use slew_core::Clock;

impl<C: Clock> Daemon<C> {
    /// Re-reads the leapfile (SIGHUP).
    /// A leapfile that cannot be read now keeps the table read before, so a
    /// passing problem (an update in progress, permissions after `-u`) cannot disarm
    /// a pending leap second.
    pub fn reload_leapfile(&mut self) {
        match self.settings.leapfile.as_deref() {
            None => self.ep.set_leap_schedule(LeapSchedule::NONE),
            Some(path) => {
                if let Some(t) = load_leapfile(path) {
                    let now_s = crate::os::time::unix_now_s();
                    self.ep.set_leap_schedule(t.schedule(now_s));
                } else if *self.ep.leap_schedule() != LeapSchedule::NONE {
                    log::warn!("keeping the leap-second table read before");
                }
            }
        }
    }
}

/// Reads a leapfile, logging why it cannot be used.
pub(super) fn load_leapfile(path: &std::path::Path) -> Option<crate::os::leapfile::LeapTable> {
    match crate::os::leapfile::read(path) {
        Ok(t) => {
            let now = crate::os::time::unix_now_s();
            if t.expired(now) {
                log::warn!(
                    "leapfile {} has expired: fetch a current leap-seconds.list",
                    path.display()
                );
            }
            match t.next_leap(now) {
                Some((kind, at)) => log::info!(
                    "leapfile {}: next leap second ({kind:?}) at the end of the day before {}",
                    path.display(),
                    crate::os::logger::format_utc(at)
                ),
                None => log::info!("leapfile {}: no leap second pending", path.display()),
            }
            Some(t)
        }
        Err(e) => {
            log::warn!("ignoring leapfile {}: {e}", path.display());
            None
        }
    }
}

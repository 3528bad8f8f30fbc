//! One log line per node event, through `defmt` (feature `defmt`), the `log` facade
//! (feature `log`), both, or neither. With neither, these functions are empty and
//! the firmware links no formatting code at all.
//!
//! Lines carry numbers only (source ids, seconds, strata), never addresses: defmt
//! has no formatter for `core::net` types, and a firmware's log is read next to its
//! configuration, which names the servers in order of their ids.

use slew_core::node::{Event, Report};

/// Logs what the driver reports: node events at info/warn, errors at warn.
pub(crate) fn report(r: &Report<'_>) {
    match r {
        Report::Event(ev) => event(ev),
        Report::ClockError(kind) => {
            let _ = kind;
            #[cfg(feature = "defmt")]
            defmt::warn!("slew: the clock refused an adjustment");
            #[cfg(feature = "log")]
            log::warn!("slew: the clock refused an adjustment: {kind:?}");
        }
        Report::SendError(kind) => {
            let _ = kind;
            #[cfg(feature = "defmt")]
            defmt::debug!("slew: a request was not sent (queue full or no route)");
            #[cfg(feature = "log")]
            log::debug!("slew: a request was not sent: {kind:?}");
        }
        // smoltcp has no transmit stamps: the clock read after send is T1.
        Report::Sent(_) => {}
    }
}

fn event(ev: &Event) {
    match *ev {
        Event::Reachable { id, .. } => {
            let _ = id;
            #[cfg(feature = "defmt")]
            defmt::info!("slew: source {=u32} reachable", id.0);
            #[cfg(feature = "log")]
            log::info!("slew: source {} reachable", id.0);
        }
        Event::Unreachable { id, .. } => {
            let _ = id;
            #[cfg(feature = "defmt")]
            defmt::warn!("slew: source {=u32} unreachable", id.0);
            #[cfg(feature = "log")]
            log::warn!("slew: source {} unreachable", id.0);
        }
        Event::SystemPeer { id, stratum, .. } => {
            let _ = (id, stratum);
            #[cfg(feature = "defmt")]
            defmt::info!(
                "slew: synchronised to source {=u32}, stratum {=u8}",
                id.0,
                stratum
            );
            #[cfg(feature = "log")]
            log::info!("slew: synchronised to source {}, stratum {}", id.0, stratum);
        }
        Event::Step { offset_s } => {
            let _ = offset_s;
            #[cfg(feature = "defmt")]
            defmt::warn!("slew: clock stepped by {=f64} s", offset_s);
            #[cfg(feature = "log")]
            log::warn!("slew: clock stepped by {offset_s:+.6} s");
        }
        Event::Panic { offset_s } => {
            let _ = offset_s;
            #[cfg(feature = "defmt")]
            defmt::error!("slew: offset {=f64} s over the panic threshold", offset_s);
            #[cfg(feature = "log")]
            log::error!("slew: offset {offset_s:+.3} s over the panic threshold; clock left alone");
        }
        _ => {
            #[cfg(feature = "defmt")]
            defmt::debug!("slew: association event");
            #[cfg(feature = "log")]
            log::debug!("slew: {ev:?}");
        }
    }
}

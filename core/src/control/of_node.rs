//! The system variables mode 6 reports, from the node's own status: one builder for
//! every port (slewd's snapshots, the appliance's answers).

use crate::node::{LocalClockStatus, SystemStatus};
use crate::time::{NtpTimestamp, PollInterval};
use crate::wire::RefId;

use super::LOCAL_CLOCK_ASSOC_ID;
use super::{association_id, sys_event, ClockSource, RefIdKind, SystemSnapshot};

/// Who is answering: `version`, `processor` and `system` as ntpq's `rv` shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity<'a> {
    /// Software name and version (`slew 0.1.0`).
    pub version: &'a str,
    /// CPU architecture (`x86_64`, `thumbv7em`).
    pub processor: &'a str,
    /// Operating system and release (`Linux/6.1.0`, `none`).
    pub system: &'a str,
}

/// How to show a refid slew made up itself: `LOCL` and `INIT` as codes; orphan
/// mode's loopback address (ntpd's `127.0.0.1`) as an address, as ntpd shows any
/// refid at strata 2 to 15.
fn own_refid_kind(refid: RefId, stratum: u8) -> RefIdKind {
    let printable = refid
        .to_bytes()
        .iter()
        .all(|&b| b == 0 || b.is_ascii_graphic());
    if printable {
        RefIdKind::Code
    } else {
        RefIdKind::for_stratum(stratum)
    }
}

impl<'a> SystemSnapshot<'a> {
    /// The system variables of a node whose status is `sys` (and local clock
    /// `local`), at wall time `wall_now`.
    pub fn of_node(
        sys: &SystemStatus,
        local: Option<LocalClockStatus>,
        wall_now: NtpTimestamp,
        identity: Identity<'a>,
    ) -> Self {
        let vars = &sys.vars;
        let synced = vars.is_synchronized();
        let local_active = local.is_some_and(|l| l.active);
        let (clock_source, peer) = match (synced, sys.system_peer) {
            (true, Some(id)) => (ClockSource::Ntp, association_id(id)),
            (true, None) if local_active => (ClockSource::Local, LOCAL_CLOCK_ASSOC_ID),
            _ => (ClockSource::Unspecified, 0),
        };
        SystemSnapshot {
            version: identity.version,
            processor: identity.processor,
            system: identity.system,
            leap: vars.leap.to_bits(),
            clock_source,
            event_count: 1,
            // Unsynchronised after start reads as ntpd's freq_not_set, which the C
            // ntpstat prints as "time server re-starting".
            last_event: if synced {
                sys_event::CLOCK_SYNC
            } else {
                sys_event::FREQ_NOT_SET
            },
            stratum: vars.stratum,
            precision: vars.precision,
            root_delay_s: vars.root_delay.to_seconds_f64(),
            root_dispersion_s: vars.root_dispersion_at(wall_now).to_seconds_f64(),
            refid: vars.ref_id,
            refid_kind: if clock_source == ClockSource::Ntp {
                RefIdKind::for_stratum(vars.stratum)
            } else {
                own_refid_kind(vars.ref_id, vars.stratum)
            },
            reference_time: vars.reference_time,
            clock: wall_now,
            peer,
            tc: vars.poll.log2(),
            mintc: PollInterval::NTPD_MIN.log2(),
            offset_s: sys.offset_s,
            frequency_ppm: sys.frequency_ppm,
            sys_jitter_s: sys.jitter_s,
            clk_jitter_s: sys.clock_jitter_s,
            clk_wander_ppm: sys.clock_wander_ppm,
            state: sys.state as u8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_refids_show_as_codes_and_orphan_loopback_as_an_address() {
        assert_eq!(own_refid_kind(RefId::LOCL, 11), RefIdKind::Code);
        assert_eq!(own_refid_kind(RefId::INIT, 16), RefIdKind::Code);
        // Orphan mode's loopback refid shows as ntpd's `127.0.0.1`.
        assert_eq!(
            own_refid_kind(RefId::from_bytes([127, 0, 0, 1]), 10),
            RefIdKind::Address
        );
    }
}

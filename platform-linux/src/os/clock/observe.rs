//! The `observe` clock: measure and report, never adjust (ntpd `-x`-style dry run,
//! chronyd `-x`). Every correction the discipline asks for is remembered and logged,
//! so an admin can run slewd beside another daemon and see what it would do.

use std::convert::Infallible;

use slew_core::clock::ClockStatus;
use slew_core::{Clock, NtpDuration, NtpTimestamp, WideDuration};

use crate::os::time::realtime_now;

/// Reads the system clock; adjustments are recorded, not applied.
#[derive(Debug, Default, Clone)]
pub struct ObserveClock {
    /// The frequency the discipline would have set, ppm.
    pub frequency_ppm: f64,
    /// Steps that would have been made.
    pub steps: Vec<WideDuration>,
    /// The last slew that would have started.
    pub last_slew: Option<NtpDuration>,
    /// The status that would have been published.
    pub status: ClockStatus,
}

impl Clock for ObserveClock {
    type Error = Infallible;

    fn now(&mut self) -> Result<NtpTimestamp, Self::Error> {
        Ok(realtime_now())
    }

    fn step(&mut self, offset: WideDuration) -> Result<(), Self::Error> {
        log::info!("observe: would step the clock by {offset}");
        self.steps.push(offset);
        Ok(())
    }

    fn slew(&mut self, offset: NtpDuration) -> Result<(), Self::Error> {
        self.last_slew = Some(offset);
        Ok(())
    }

    fn set_frequency_ppm(&mut self, ppm: f64) -> Result<(), Self::Error> {
        self.frequency_ppm = ppm;
        Ok(())
    }

    fn frequency_ppm(&mut self) -> Result<f64, Self::Error> {
        Ok(self.frequency_ppm)
    }

    /// The kernel clock's range: what the discipline would get to use.
    fn max_frequency_ppm(&self) -> f64 {
        super::kernel::KERNEL_MAX_TOTAL_PPM
    }

    fn name(&self) -> &'static str {
        "observe"
    }

    /// It reads `CLOCK_REALTIME`, as the packet stamps do.
    fn reading_at_stamp(&mut self, realtime: NtpTimestamp) -> NtpTimestamp {
        realtime
    }

    /// The system clock's `time_t`, which has the era.
    fn full_width_now_unix_ns(&mut self) -> Option<i128> {
        Some(crate::os::time::realtime_unix_ns())
    }

    fn set_status(&mut self, status: ClockStatus) -> Result<(), Self::Error> {
        self.status = status;
        Ok(())
    }
}

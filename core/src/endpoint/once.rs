//! One-shot mode (`slewd -q`, `slewctl date`): measure, make one correction, stop.
//!
//! [`StepRule::decide`] is the one step-or-slew rule of slew: `slewd -q` takes its
//! threshold from the discipline ([`StepRule::for_discipline`]), `slewctl date` from
//! ntpdate ([`StepRule::NTPDATE`]), and both force one or the other the same way.

use crate::discipline::{DisciplineConfig, StepMode};
use crate::time::{NtpDuration, WideDuration};

/// The one correction a one-shot run makes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Correction {
    /// Set the clock by this much.
    Step(WideDuration),
    /// Slew this much away.
    Slew(NtpDuration),
}

/// What the admin forced (`-b`/`-B`, `ntpd -x`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Force {
    /// Always step.
    Step,
    /// Always slew.
    Slew,
}

/// When a one-shot correction steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepRule {
    /// Offsets whose magnitude is above this are stepped, seconds; 0 or less never
    /// steps (ntpd's `tinker step 0`).
    pub threshold_s: f64,
    /// Step or slew whatever the offset.
    pub force: Option<Force>,
}

impl StepRule {
    /// ntpdate's rule: step when more than 0.5 s off, slew otherwise.
    pub const NTPDATE: Self = Self {
        threshold_s: 0.5,
        force: None,
    };

    /// The discipline's own rule (`tinker step`; `-x` slews everything).
    pub fn for_discipline(d: &DisciplineConfig) -> Self {
        Self {
            threshold_s: d.step_threshold_s,
            force: (d.step_mode == StepMode::SlewOnly).then_some(Force::Slew),
        }
    }

    /// This rule with `force` (`None` keeps the threshold's say).
    pub const fn forced(self, force: Option<Force>) -> Self {
        Self {
            threshold_s: self.threshold_s,
            force,
        }
    }

    /// Step or slew `offset`.
    pub fn decide(&self, offset: WideDuration) -> Correction {
        let step = match self.force {
            Some(Force::Step) => true,
            Some(Force::Slew) => false,
            None => self.threshold_s > 0.0 && offset.abs().to_seconds_f64() > self.threshold_s,
        };
        if step {
            Correction::Step(offset)
        } else {
            Correction::Slew(offset.to_duration_saturating())
        }
    }
}

/// A one-shot run in progress: the node's clock actions are held back, and the
/// first measured offset becomes the one [`Correction`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct OneShot {
    pub(super) rule: StepRule,
    pub(super) done: Option<Correction>,
    /// The correction was handed out as an action.
    pub(super) reported: bool,
}

impl OneShot {
    pub(super) fn new(rule: StepRule) -> Self {
        Self {
            rule,
            done: None,
            reported: false,
        }
    }

    /// The node measured `offset` (its first step, or its first clock update).
    pub(super) fn measured(&mut self, offset: WideDuration) {
        if self.done.is_none() {
            self.done = Some(self.rule.decide(offset));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn off(s: f64) -> WideDuration {
        WideDuration::from_seconds_f64(s)
    }

    #[test]
    fn steps_above_the_threshold_and_slews_below() {
        let r = StepRule::NTPDATE;
        assert_eq!(r.decide(off(0.7)), Correction::Step(off(0.7)));
        assert_eq!(r.decide(off(-0.7)), Correction::Step(off(-0.7)));
        assert!(matches!(r.decide(off(0.3)), Correction::Slew(_)));
        assert!(matches!(r.decide(off(-0.5)), Correction::Slew(_)));
    }

    #[test]
    fn forcing_overrides_the_threshold_and_zero_never_steps() {
        let r = StepRule::NTPDATE;
        assert!(matches!(
            r.forced(Some(Force::Step)).decide(off(0.01)),
            Correction::Step(_)
        ));
        assert!(matches!(
            r.forced(Some(Force::Slew)).decide(off(9.0)),
            Correction::Slew(_)
        ));
        let never = StepRule {
            threshold_s: 0.0,
            force: None,
        };
        assert!(matches!(never.decide(off(100.0)), Correction::Slew(_)));
    }

    #[test]
    fn the_discipline_rule_follows_tinker_step_and_slew_only() {
        let mut d = DisciplineConfig::default();
        let r = StepRule::for_discipline(&d);
        assert_eq!(r.threshold_s, d.step_threshold_s);
        assert_eq!(r.force, None);
        d.step_mode = StepMode::SlewOnly;
        assert_eq!(StepRule::for_discipline(&d).force, Some(Force::Slew));
    }

    #[test]
    fn only_the_first_measurement_counts() {
        let mut o = OneShot::new(StepRule::NTPDATE);
        o.measured(off(2.0));
        o.measured(off(0.1));
        assert_eq!(o.done, Some(Correction::Step(off(2.0))));
    }
}

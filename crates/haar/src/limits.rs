//! Bounds on the work one detection may do, for cascades and images that come from strangers:
//! the size of a cascade ([`CascadeLimits`], checked once after loading) and the budget of one
//! run ([`Budget`]: raw candidate windows, a deadline, a cancel flag), checked inside the
//! parallel window scan so a run that goes over stops within one row of windows.

use std::{
    sync::atomic::{AtomicBool, AtomicUsize, Ordering},
    time::Instant,
};

use crate::{Cascade, HaarError};

/// The largest cascade accepted: stages, weak trees and features. The shipped OpenCV cascades
/// reach 47 stages, 8,468 trees and 8,468 features (`haarcascade_frontalface_alt_tree`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CascadeLimits {
    /// Most boosted stages.
    pub max_stages: usize,
    /// Most weak trees over all stages.
    pub max_trees: usize,
    /// Most Haar or LBP features.
    pub max_features: usize,
}

impl Default for CascadeLimits {
    fn default() -> Self {
        Self {
            max_stages: 64,
            max_trees: 10_000,
            max_features: 10_000,
        }
    }
}

impl Cascade {
    /// Number of Haar or LBP features.
    pub fn feature_count(&self) -> usize {
        self.haar_features.len() + self.lbp_features.len()
    }

    /// Refuses a cascade larger than `limits` with [`HaarError::CascadeTooLarge`].
    pub fn check_limits(&self, limits: &CascadeLimits) -> Result<(), HaarError> {
        let checks = [
            ("stages", self.stage_count(), limits.max_stages),
            ("trees", self.tree_count(), limits.max_trees),
            ("features", self.feature_count(), limits.max_features),
        ];
        for (what, count, max) in checks {
            if count > max {
                return Err(HaarError::CascadeTooLarge { what, count, max });
            }
        }
        Ok(())
    }
}

/// What one detection may spend. [`Budget::default`] is unlimited.
#[derive(Debug, Default)]
pub struct Budget<'a> {
    /// Most raw candidate windows (accepted by every stage) before grouping; grouping costs the
    /// square of their number. `None`: no limit.
    pub max_candidates: Option<usize>,
    /// The run stops with [`HaarError::DeadlineExceeded`] once this instant has passed.
    pub deadline: Option<Instant>,
    /// The run stops with [`HaarError::Canceled`] once this flag is set (e.g. the client left).
    pub cancel: Option<&'a AtomicBool>,
}

/// The running account of a [`Budget`], shared by the scan's threads.
pub(crate) struct Meter<'a> {
    budget: &'a Budget<'a>,
    candidates: AtomicUsize,
}

impl<'a> Meter<'a> {
    pub(crate) fn new(budget: &'a Budget<'a>) -> Self {
        Self {
            budget,
            candidates: AtomicUsize::new(0),
        }
    }

    /// Checks the deadline and the cancel flag (before a row is scanned).
    pub(crate) fn check(&self) -> Result<(), HaarError> {
        if self
            .budget
            .cancel
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(HaarError::Canceled);
        }
        if let Some(deadline) = self.budget.deadline
            && Instant::now() >= deadline
        {
            return Err(HaarError::DeadlineExceeded);
        }
        Ok(())
    }

    /// Counts `hits` new candidates (after a row is scanned).
    pub(crate) fn add(&self, hits: usize) -> Result<(), HaarError> {
        let Some(max) = self.budget.max_candidates else {
            return Ok(());
        };
        let total = self.candidates.fetch_add(hits, Ordering::Relaxed) + hits;
        if total > max {
            return Err(HaarError::TooManyCandidates { max });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unlimited_budget_never_stops() {
        let budget = Budget::default();
        let meter = Meter::new(&budget);
        assert!(meter.check().is_ok());
        assert!(meter.add(usize::MAX / 2).is_ok());
    }

    #[test]
    fn a_budget_stops_on_cancel_deadline_and_candidates() {
        let cancel = AtomicBool::new(false);
        let budget = Budget {
            max_candidates: Some(10),
            deadline: None,
            cancel: Some(&cancel),
        };
        let meter = Meter::new(&budget);
        assert!(meter.check().is_ok());
        assert!(meter.add(10).is_ok());
        assert_eq!(meter.add(1), Err(HaarError::TooManyCandidates { max: 10 }));
        cancel.store(true, Ordering::Relaxed);
        assert_eq!(meter.check(), Err(HaarError::Canceled));
        let past = Budget {
            deadline: Some(Instant::now()),
            ..Budget::default()
        };
        assert_eq!(Meter::new(&past).check(), Err(HaarError::DeadlineExceeded));
    }
}
